#!/usr/bin/env python3
"""Walk through the demo gateway: first the review desk as people use it (submit, the
approvers' inboxes, approve, published; a rejection and its reason), then the same gate as a
program drives it (screen, get refused, get approved, publish, read it back), then a publish
made around the gateway on the WeChat console and the reconciler catching it.

Start the demo first (``mediagate demo``), then::

    python examples/demo_walk.py [--data-dir demo-data] [--url http://127.0.0.1:8080]

Uses only the standard library, the keys in ``<data-dir>/demo-keys.json`` and the emulator
addresses in ``<data-dir>/demo-emulators.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# An 8x8 red PNG, generated for the demo (cover and in-article image).
RED_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGM4"
    "ISeHFTEMLQkAkL9BAbKfPiIAAAAASUVORK5CYII="
)
IMAGE = {"filename": "red.png", "content_type": "image/png", "data": RED_PNG}


class Demo:
    def __init__(self, url: str, keys: dict[str, Any]) -> None:
        self.url = url.rstrip("/")
        self.keys = keys

    def call(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path,
            method=method,
            data=data,
            headers={
                "Authorization": "Bearer " + self.keys[who]["key"],
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def approve(self, who: str, post: dict[str, Any], account: str, **extra: Any) -> str:
        status, answer = self.call(
            "POST",
            "/v1/approvals",
            who,
            {"post": post, "accounts": [account], "decision": "approve", **extra},
        )
        assert status == 201, answer
        print(f"  {who:<10} approved -> token {answer['jti']} (expires {answer['expires_at']})")
        token: str = answer["token"]
        return token

    def wait(self, job_id: str, who: str, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            _, job = self.call("GET", f"/v1/posts/{job_id}", who)
            if (
                job["state"] not in ("approved", "dispatching", "pending")
                or time.monotonic() > deadline
            ):
                return dict(job)
            time.sleep(0.5)

    def wait_submission(self, sub_id: str, who: str, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            _, sub = self.call("GET", f"/v1/submissions/{sub_id}", who)
            if sub["state"] not in ("approved", "publishing") or time.monotonic() > deadline:
                return dict(sub)
            time.sleep(0.5)


def robot_messages(base_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(base_url + "/_emulator/messages", timeout=10) as resp:
        items: list[dict[str, Any]] = json.loads(resp.read())["items"]
        return items


def settled_robot_messages(
    base_url: str, quiet_s: float = 1.0, limit_s: float = 10.0
) -> list[dict[str, Any]]:
    """The robot's messages once no new one has come for ``quiet_s`` (notices are sent in the
    background, a moment after the action that caused them)."""
    deadline = time.monotonic() + limit_s
    got = robot_messages(base_url)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        again = robot_messages(base_url)
        if len(again) == len(got):
            return again
        got = again
    return got


def desk_walk(demo: Demo, emulators: dict[str, str]) -> bool:
    """The review desk: nobody carries JSON or a token between people."""
    print("D1. The editor submits a draft for the subsidiary's Weibo account on the desk")
    post = {
        "title": "华东分公司志愿者走进社区",
        "digest": "志愿服务",
        "content": "<p>上周末华东分公司三十名志愿者走进社区，开展义诊和环保宣传。</p>",
        "author": "小刘",
        "source": "华东分公司工会",
        "category": "culture",
    }
    status, sub = demo.call(
        "POST", "/v1/submissions", "editor", {"account": "east-weibo", "post": post}
    )
    if status != 201:
        print(f"  {status} {sub.get('detail')}")
        return False
    needed = [r["role"] + "@" + (r["unit"] or "*") for r in sub["required_approvals"]]
    print(f"  {status} {sub['id']} state={sub['state']} needs={needed}")

    print("D2. The approver's inbox shows what waits for them (and the WeCom group was told)")
    _, inbox = demo.call("GET", "/v1/inbox", "unit_head")
    for item in inbox["items"]:
        print(f"  inbox unit_head: {item['id']} 「{item['title']}」 as {item['required']['role']}")
    _, others = demo.call("GET", "/v1/inbox", "unit_head_west")
    print(f"  inbox unit_head_west: {len(others['items'])} item(s)")

    print("D3. The subsidiary head approves on the desk; the gateway publishes by itself")
    status, sub = demo.call(
        "POST", f"/v1/submissions/{sub['id']}/decisions", "unit_head", {"decision": "approve"}
    )
    print(f"  {status} state={sub['state']}")
    sub = demo.wait_submission(sub["id"], "editor")
    job = sub["jobs"][0] if sub["jobs"] else {}
    print(f"  the editor sees: state={sub['state']} url={job.get('url')}")
    tokens_seen = "token" in json.dumps(sub)
    print(f"  tokens handled by a person: {'yes' if tokens_seen else 'none'}")

    print("D4. A rejected submission shows its reason to the editor")
    draft = {
        **post,
        "title": "华东分公司将裁撤两个部门",
        "content": "<p>据悉，华东分公司将裁撤两个部门。</p>",
    }
    _, second = demo.call(
        "POST", "/v1/submissions", "editor", {"account": "east-weibo", "post": draft}
    )
    demo.call(
        "POST",
        f"/v1/submissions/{second['id']}/decisions",
        "unit_head",
        {"decision": "reject", "reason": "未经核实的组织调整信息，不得发布"},
    )
    _, seen = demo.call("GET", f"/v1/submissions/{second['id']}", "editor")
    print(f"  state={seen['state']} reason={seen['rejection']['reason']}")

    robot = emulators.get("wecom_robot")
    if robot:
        got = settled_robot_messages(robot)
        print(f"D5. The WeCom group robot received {len(got)} notice(s):")
        for message in got:
            print("  " + message["content"].splitlines()[0])
    return sub["state"] == "published" and not tokens_seen


def bypass_walk(demo: Demo, emulators: dict[str, str]) -> bool:
    """Someone publishes on the platform's own console; the reconciler finds it (docs/bypass.md)."""
    print("8. Someone publishes on the WeChat console, outside the gateway; Brand-PR reconciles")
    console = {"title": "未经审核的活动通知", "content": "<p>本周日集团举办开放日，欢迎参加。</p>"}
    req = urllib.request.Request(
        emulators["wechat"] + "/_emulator/console/publish",
        method="POST",
        data=json.dumps(console).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        outside = json.loads(resp.read())
    print(f"  console publish -> {outside['platform_id']} (no approval, no job)")
    status, report = demo.call("POST", "/v1/accounts/hq-wechat/reconcile", "brand_pr")
    if status != 200:
        print(f"  {status} {report.get('detail')}")
        return False
    print(f"  {status} listed={report['listed']} items_seen={report['items_seen']}")
    for alert in report["alerts"]:
        print(
            f"  alert {alert['kind']} {alert['platform_id']} 「{alert['title']}」 "
            f"audited={alert['audit_seq'] > 0}"
        )
    status, again = demo.call("POST", "/v1/accounts/hq-wechat/reconcile", "brand_pr")
    print(f"  again: {status} new alerts={len(again['alerts'])}")
    return bool(report["alerts"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default="demo-data")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    keys = json.loads((Path(args.data_dir) / "demo-keys.json").read_text(encoding="utf-8"))
    demo = Demo(args.url, keys)
    emulators_file = Path(args.data_dir) / "demo-emulators.json"
    emulators = json.loads(emulators_file.read_text()) if emulators_file.exists() else {}

    if not desk_walk(demo, emulators):
        return 1
    print()
    print("The same gate for programs: tokens carried by the caller (POST /v1/posts)")

    print("1. A subsidiary editor checks a draft for the subsidiary's Weibo account")
    post = {
        "title": "华东分公司举办客户开放日",
        "digest": "欢迎客户参观",
        "content": "<p>本周六华东分公司举办客户开放日，欢迎参观。</p>",
        "author": "小刘",
        "source": "华东分公司综合部",
        "category": "news",
    }
    _, screen = demo.call("POST", "/v1/screen", "editor", {"post": post, "account": "east-weibo"})
    print(
        f"  decision={screen['decision']} required="
        f"{[r['role'] + '@' + r.get('unit', '*') for r in screen['required_approvals']]}"
    )

    print("2. Publishing without approval is refused, saying what is missing")
    status, refusal = demo.call(
        "POST", "/v1/posts", "editor", {"account": "east-weibo", "post": post}
    )
    print(f"  {status} {refusal['detail']}")

    print("3. The subsidiary head approves exactly this content; the editor publishes")
    token = demo.approve("unit_head", post, "east-weibo")
    status, job = demo.call(
        "POST", "/v1/posts", "editor", {"account": "east-weibo", "post": post, "approvals": [token]}
    )
    job = demo.wait(job["id"], "editor")
    print(f"  {status} {job['id']} state={job['state']} url={job.get('url')}")

    print("4. The same token cannot be used twice")
    status, replay = demo.call(
        "POST", "/v1/posts", "editor", {"account": "east-weibo", "post": post, "approvals": [token]}
    )
    print(f"  {status} {replay['detail']}")

    print("5. Financial figures and the chairman: Art. 14 and 17(2) add leader and Brand-PR")
    fin = {
        **post,
        "title": "华东分公司三季度经营情况",
        "content": "<p>董事长王建国表示，三季度营收同比增长23%，净利润达到5.2亿元。</p>",
    }
    _, screen = demo.call("POST", "/v1/screen", "editor", {"post": fin, "account": "east-weibo"})
    for finding in screen["findings"]:
        print(
            f"  finding {finding['category']:<10} '{finding['text']}' "
            f"{finding['field']}[{finding['start']}:{finding['end']}]"
        )
    print(f"  required roles: {screen['required_roles']}")
    tokens = [demo.approve(who, fin, "east-weibo") for who in ("unit_head", "leader", "brand_pr")]
    status, job = demo.call(
        "POST", "/v1/posts", "editor", {"account": "east-weibo", "post": fin, "approvals": tokens}
    )
    print(f"  {status} {job.get('id')} state={job.get('state')}")

    print("6. A state-secret marking blocks, whatever the approvals")
    secret = {**post, "content": "<p>（绝密）本周六华东分公司举办客户开放日。</p>"}
    status, blocked = demo.call(
        "POST",
        "/v1/posts",
        "editor",
        {"account": "east-weibo", "post": secret, "approvals": tokens},
    )
    print(f"  {status} {blocked['detail']}")

    print("7. The HQ WeChat account: department head + Brand-PR; WeChat publishes asynchronously")
    hq = {
        "title": "集团发布年度品牌战略白皮书",
        "digest": "品牌建设新进展",
        "content": '<p>集团今日发布品牌建设白皮书。</p><p><img src="image:0"></p>',
        "author": "战略发展部",
        "source": "集团战略发展部",
        "category": "culture",
        "cover": IMAGE,
        "images": [IMAGE],
    }
    tokens = [demo.approve(who, hq, "hq-wechat") for who in ("dept_head", "brand_pr")]
    status, job = demo.call(
        "POST", "/v1/posts", "editor_hq", {"account": "hq-wechat", "post": hq, "approvals": tokens}
    )
    if status >= 400:
        print(f"  {status} {job['detail']}")
        return 1
    print(f"  {status} {job['id']} state={job['state']}")
    job = demo.wait(job["id"], "editor_hq")
    print(
        f"  later: state={job['state']} platform_id={job.get('platform_id')} url={job.get('url')}"
    )

    if not bypass_walk(demo, emulators):
        return 1

    print("9. The audit chain is intact")
    _, verify = demo.call("GET", "/admin/audit/verify", "auditor")
    print(f"  ok={verify['ok']} records={verify['records']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
