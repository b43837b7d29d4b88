"""Audit log (Art. 22): every state change recorded before the answer, hash-chained, verified."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from gateway.audit import SYSTEM, AuditLog
from gateway.keys import Keys
from tests.gateway.conftest import Caller, file_active_account

ROOT = Path(__file__).resolve().parents[2]


async def _records(redis: aredis.Redis) -> list[dict[str, Any]]:
    return [r async for _, r in AuditLog(redis, Keys()).records()]


async def _tamper(redis: aredis.Redis, index: int, **changes: Any) -> str:
    """Rewrite record ``index`` in place, as someone with write access to Redis could."""
    stream = Keys().audit_stream()
    entries = await redis.xrange(stream)
    await redis.delete(stream)
    for i, (eid, fields) in enumerate(entries):
        record = json.loads(fields[b"r"])
        if i == index:
            record.update(changes)
        await redis.xadd(stream, {"r": json.dumps(record)}, id=eid)
    victim: bytes = entries[index][0]
    return victim.decode()


async def test_state_changes_are_recorded_with_who_what_and_result(
    client: TestClient[Any, Any], callers: dict[str, Caller], redis: aredis.Redis
) -> None:
    await file_active_account(client, callers)
    records = await _records(redis)
    assert [r["action"] for r in records] == ["account.file", "account.approve"]
    filed = records[0]
    assert filed["actor"] == {
        "id": callers["unit_head"].id,
        "name": "unit_head",
        "role": "unit_head",
        "unit": "sub_east",
    }
    assert filed["target"] == "east-weibo" and filed["result"] == "ok"
    assert records[1]["actor"]["role"] == "brand_pr" and records[1]["decision"] == "active"
    assert [r["seq"] for r in records] == [1, 2]
    assert records[1]["prev"] == records[0]["hash"]


async def test_concurrent_appends_from_two_logs_keep_one_chain(redis: aredis.Redis) -> None:
    one, two = AuditLog(redis, Keys()), AuditLog(redis, Keys())
    await asyncio.gather(
        *(log.append(actor=SYSTEM, action=f"a{i}") for i in range(40) for log in (one, two))
    )
    result = await one.verify()
    assert result.ok and result.records == 80


async def test_verify_names_the_first_altered_record(redis: aredis.Redis) -> None:
    log = AuditLog(redis, Keys())
    for i in range(5):
        await log.append(actor=SYSTEM, action="freeze", target=f"t{i}")
    victim_id = await _tamper(redis, 2, target="something else")
    result = await log.verify()
    assert not result.ok
    assert result.broken_seq == 3 and result.broken_at == victim_id


async def test_run_py_audit_verify_detects_tampering(redis: aredis.Redis, redis_url: str) -> None:
    log = AuditLog(redis, Keys())
    for i in range(3):
        await log.append(actor=SYSTEM, action="x", target=str(i))
    env = {"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "run.py", "audit", "verify"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    ok = await asyncio.to_thread(verify)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 3 records" in ok.stdout
    eid = await _tamper(redis, 1, result="denied")
    broken = await asyncio.to_thread(verify)
    assert broken.returncode == 1
    assert f"seq 2 (stream id {eid})" in broken.stdout


async def test_deleting_the_last_record_is_detected(redis: aredis.Redis) -> None:
    log = AuditLog(redis, Keys())
    for i in range(3):
        await log.append(actor=SYSTEM, action="x", target=str(i))
    entries = await redis.xrange(Keys().audit_stream())
    await redis.xdel(Keys().audit_stream(), entries[-1][0])
    assert not (await log.verify()).ok


async def test_when_the_audit_cannot_be_written_nothing_happens(
    client: TestClient[Any, Any], callers: dict[str, Caller], redis: aredis.Redis
) -> None:
    # Break the audit stream: a string where the stream should be makes XADD fail.
    await redis.delete(Keys().audit_stream())
    await redis.set(Keys().audit_stream(), "not a stream")
    resp = await client.post(
        "/v1/accounts",
        headers=callers["unit_head"].headers,
        json={"id": "east-weibo", "platform": "weibo", "name": "x", "unit": "sub_east"},
    )
    assert resp.status == 503
    body = await resp.json()
    assert body["reason"] == "audit_unavailable"
    assert await redis.exists(Keys().account("east-weibo")) == 0
    resp = await client.post(
        "/admin/freeze", headers=callers["admin"].headers, json={"scope": "all", "reason": "演练"}
    )
    assert resp.status == 503
    assert await redis.hlen(Keys().freezes()) == 0


async def test_export_writes_json_lines_since_a_date(
    redis: aredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    log = AuditLog(redis, Keys())
    await log.append(actor=SYSTEM, action="x", target="一")
    out = tmp_path / "audit.jsonl"
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "run.py", "audit", "export", "--since", "2020-01-01", "-o", str(out)],
        cwd=ROOT,
        env={"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["target"] for line in lines] == ["一"]
