"""Admin lexicons: terms added through the API on one gateway instance are applied by another
instance on the same Redis within a second, without a restart."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.gateway.conftest import MASTER, Caller, MakeClient
from tests.served import listening_url

ROOT = Path(__file__).resolve().parents[2]

CODENAME = "青龙计划"
POST = {
    "title": "项目进展",
    "content": f"<p>{CODENAME}进入第二阶段。</p>",
    "source": "战略部",
    "category": "news",
}


async def _screen(client: Any, caller: Caller) -> dict[str, Any]:
    resp = await client.post("/v1/screen", headers=caller.headers, json={"post": POST})
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def test_a_new_codename_reaches_a_second_instance_within_a_second(
    make_client: MakeClient, callers: dict[str, Caller]
) -> None:
    one, two = await make_client(), await make_client()
    assert one.app is not two.app
    before = await _screen(two, callers["editor"])
    assert before["decision"] == "pass", before

    resp = await one.post(
        "/admin/lexicons/codename/terms",
        headers=callers["brand_pr"].headers,
        json={"terms": [CODENAME], "severity": "high"},
    )
    assert resp.status == 201, await resp.text()
    entry = await resp.json()
    assert entry["category"] == "codename" and entry["terms_count"] == 1

    started = time.monotonic()
    while True:
        after = await _screen(two, callers["editor"])
        if after["decision"] == "block":
            break
        assert time.monotonic() - started < 1.0, "second instance did not apply the change in 1 s"
        await asyncio.sleep(0.05)
    finding = after["findings"][0]
    assert finding["category"] == "codename" and finding["text"] == CODENAME
    assert POST["content"][finding["start"] : finding["end"]] == CODENAME
    assert finding["field"] == "content"

    # then, in the background, file and admin terms are compiled into one automaton set (both
    # instances share this test's process and its GIL: wait for both before the next change)
    started = time.monotonic()
    for client in (two, one):
        while not (await (await client.get("/healthz")).json())["parts"]["screening"]["compacted"]:
            assert time.monotonic() - started < 30, "an instance never compacted"
            await asyncio.sleep(0.1)
    assert await _screen(two, callers["editor"]) == after

    resp = await one.delete(
        "/admin/lexicons/codename/terms",
        headers=callers["admin"].headers,
        json={"terms": [CODENAME]},
    )
    assert resp.status == 200
    started = time.monotonic()
    while (await _screen(two, callers["editor"]))["decision"] != "pass":
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.05)


async def test_bad_terms_are_refused_naming_the_field(
    make_client: MakeClient, callers: dict[str, Caller]
) -> None:
    client = await make_client()
    for body, field in (
        ({"terms": ["x" * 65]}, "terms[0]"),
        ({"terms": "青龙"}, "terms"),
        ({"terms": ["ok"], "action": "explode"}, "action"),
        ({"terms": ["ok"], "extra": 1}, "extra"),
    ):
        resp = await client.post(
            "/admin/lexicons/codename/terms", headers=callers["brand_pr"].headers, json=body
        )
        assert resp.status == 422, (body, await resp.text())
        assert (await resp.json())["errors"][0]["field"] == field
    resp = await client.post(
        "/admin/lexicons/Bad-Name/terms", headers=callers["admin"].headers, json={"terms": ["x"]}
    )
    assert resp.status == 422
    listing = await (await client.get("/admin/lexicons", headers=callers["auditor"].headers)).json()
    assert listing["admin"] == []
    assert listing["files"], "the shipped lexicons are listed with their provenance"


async def test_a_change_reaches_another_gateway_process_within_a_second(
    make_client: MakeClient, callers: dict[str, Caller], redis_url: str, tmp_path: Path
) -> None:
    """The second instance is a real ``run.py serve`` process on the same store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
    env.update(
        REDIS_URL=redis_url,
        PYTHONUNBUFFERED="1",
        MEDIAGATE_CONNECTORS__ALLOW="[]",
        MEDIAGATE_MASTER_KEY=base64.b64encode(MASTER.key).decode(),
    )
    log = (tmp_path / "serve.log").open("wb")
    proc = _serve(tmp_path / "data", env, log)
    try:
        url = await asyncio.to_thread(listening_url, tmp_path / "serve.log", proc, 180)
        async with aiohttp.ClientSession() as session:

            async def other_process() -> str:
                async with session.post(
                    f"{url}/v1/screen", headers=callers["editor"].headers, json={"post": POST}
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    decision: str = (await resp.json())["decision"]
                    return decision

            assert await other_process() == "pass"
            here = await make_client()
            resp = await here.post(
                "/admin/lexicons/codename/terms",
                headers=callers["brand_pr"].headers,
                json={"terms": [CODENAME]},
            )
            assert resp.status == 201
            started = time.monotonic()
            while await other_process() != "block":
                assert time.monotonic() - started < 1.0, "not applied by the other process in 1 s"
                await asyncio.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


def _serve(data_dir: Path, env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "run.py", "serve", "--port", "0", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
