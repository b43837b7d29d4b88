"""``run.py demo`` starts a working organisation a newcomer can drive end to end.

Runs the real command as a subprocess (embedded Valkey, emulators on loopback), then the
documented walk-through script against it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.served import listening_url

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0


def _env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_") and k != "REDIS_URL"
    }


def test_demo_starts_and_the_walkthrough_publishes(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "run.py", "demo", "--data-dir", str(data_dir), "--port", "0"],
        cwd=ROOT,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = listening_url(tmp_path / "demo.log", proc, START_TIMEOUT_S)
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as r:
            assert r.status == 200  # the port listens only once the demo is ready

        keys_file = data_dir / "demo-keys.json"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        keys = json.loads(keys_file.read_text(encoding="utf-8"))
        proxy = keys.pop("wechat_proxy")  # the demo's WeChat proxy client (docs/proxy.md)
        assert set(proxy) == {"appid", "secret", "account", "base_url"}
        assert proxy["account"] == "hq-wechat"
        assert proxy["base_url"] == f"{base}/proxy/wechat/cgi-bin/"
        query = f"grant_type=client_credential&appid={proxy['appid']}&secret={proxy['secret']}"
        with urllib.request.urlopen(f"{proxy['base_url']}token?{query}", timeout=5) as r:
            assert json.loads(r.read())["expires_in"] == 7200
        assert {v["role"] for v in keys.values()} == {
            "editor",
            "unit_head",
            "brand_pr",
            "leader",
            "admin",
            "auditor",
        }
        assert all(v["key"].startswith("mg_") and v["unit"] for v in keys.values())
        # the demo seeds one linked campaign for the subsidiaries (docs/hub.md)
        request = urllib.request.Request(
            f"{base}/v1/campaigns",
            headers={"Authorization": f"Bearer {keys['editor']['key']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            campaigns = json.loads(resp.read())["items"]
        assert [c["title"] for c in campaigns] == ["安全生产月联动宣传"]

        walk = subprocess.run(
            [
                sys.executable,
                "examples/demo_walk.py",
                "--data-dir",
                str(data_dir),
                "--url",
                base,
            ],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert walk.returncode == 0, walk.stdout + walk.stderr
        out = walk.stdout
        assert "403 missing approvals: unit_head@sub_east" in out
        assert out.count("state=published") == 4, out  # the desk's walk, then the program's
        # the desk: submit -> the approvers' inboxes -> approve -> published, no token by hand
        assert "state=awaiting_approval needs=['unit_head@sub_east']" in out
        assert "inbox unit_head: sub_" in out and "inbox unit_head_west: 0 item(s)" in out
        assert "the editor sees: state=published url=https://weibo.com/" in out
        assert "tokens handled by a person: none" in out
        assert "state=rejected reason=未经核实的组织调整信息，不得发布" in out
        assert "### 待审核：华东分公司志愿者走进社区" in out
        emulators = json.loads((data_dir / "demo-emulators.json").read_text())
        assert set(emulators) >= {"wechat", "weibo", "wordpress", "webhook", "wecom_robot"}
        assert all(url.startswith("http://127.0.0.1:") for url in emulators.values())
        assert "409 approval token" in out
        assert "422 the content may not be published" in out
        assert "ok=True" in out
        # docs/demo.md shows what a fresh run prints (issue #11: it showed 74 records, not 27)
        assert _normalised(out) == _normalised(_documented_walk())
        printed = (tmp_path / "demo.log").read_text()
        assert keys["editor"]["key"] in printed  # shown once, on start
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert proc.returncode == 0
    assert not (data_dir / "store" / "valkey.sock").exists()


_VARYING = (
    (re.compile(r"token [A-Za-z0-9_-]{22}"), "token <jti>"),
    (re.compile(r"expires \d+"), "expires <time>"),
    (re.compile(r"job_[0-9a-f]{20}"), "job_<id>"),
    (re.compile(r"emu-article-\d+"), "emu-article-<n>"),
    (re.compile(r"/s/emu\d+"), "/s/emu<n>"),
    (re.compile(r"sub_[0-9a-f]{20}"), "sub_<id>"),
    (re.compile(r"weibo\.com/(\d+)/\d+"), r"weibo.com/\1/<mid>"),
)


def _normalised(text: str) -> list[str]:
    for pattern, replacement in _VARYING:
        text = pattern.sub(replacement, text)
    return [line for line in text.strip().splitlines() if line]


def _documented_walk() -> str:
    doc = (ROOT / "docs" / "demo.md").read_text(encoding="utf-8")
    desk = re.findall(r"```\n(D1\. The editor.*?)```", doc, flags=re.S)
    blocks = re.findall(r"```\n(The same gate for programs.*?)```", doc, flags=re.S)
    assert len(desk) == 1, "docs/demo.md: the sample output of the desk walk is missing"
    assert len(blocks) == 1, "docs/demo.md: the sample output of the walk is missing"
    return desk[0] + blocks[0]
