"""Audit log (Art. 22): every state change recorded before the answer, hash-chained, verified."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient
from redis.exceptions import ResponseError

from gateway.audit import (
    GENESIS,
    SYSTEM,
    Anchor,
    AuditLog,
    Then,
    anchor_loop,
    chain_hash,
    read_anchor_file,
)
from gateway.errors import ServiceUnavailable
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


async def test_an_append_after_another_process_wrote_chains_onto_the_real_head(
    redis: aredis.Redis,
) -> None:
    # Each log guesses the head it wrote last; the script refuses a stale guess and answers
    # the real head, so the next record still chains onto it (no fork, no lost record).
    one, two = AuditLog(redis, Keys()), AuditLog(redis, Keys())
    await one.append(actor=SYSTEM, action="a1")
    await two.append(actor=SYSTEM, action="b1")
    await two.append(actor=SYSTEM, action="b2")
    third = await one.append(actor=SYSTEM, action="a2")  # its guess is seq 1: stale
    assert third["seq"] == 4
    records = await _records(redis)
    assert [r["action"] for r in records] == ["a1", "b1", "b2", "a2"]
    assert third["prev"] == records[2]["hash"]
    assert (await one.verify()).ok


class _Counting(aredis.Redis):
    """Counts the commands this client sends (the server's command statistics are shared with
    every other client of the server: other test workers, other databases)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]).upper())
        return await super().execute_command(*args, **options)


async def test_an_uncontended_append_is_one_round_trip(redis: aredis.Redis, redis_url: str) -> None:
    counted = _Counting.from_url(redis_url)
    try:
        log = AuditLog(counted, Keys())
        await log.append(actor=SYSTEM, action="first")  # reads the head once
        counted.sent.clear()
        for i in range(5):
            await log.append(actor=SYSTEM, action=f"next{i}")
        assert counted.sent == ["EVALSHA"] * 5  # no separate GET of the head
        assert (await log.verify()).ok
    finally:
        await counted.aclose()


# --- a step in the same script as the record (append_then) -----------------------------------

# Sets KEYS[1] to ARGV[1] and answers how often it ran.
_STEP = """
redis.call('SET', KEYS[1], ARGV[1])
return redis.call('INCR', KEYS[2])
"""


def _step(tag: str = "done") -> Then:
    return Then(_STEP, ["{mg}:test:step", "{mg}:test:runs"], [tag])


async def test_a_step_runs_after_the_record_in_the_same_round_trip(
    redis: aredis.Redis, redis_url: str
) -> None:
    counted = _Counting.from_url(redis_url)
    try:
        log = AuditLog(counted, Keys())
        await log.append(actor=SYSTEM, action="first")  # reads the head once
        record, answer = await log.append_then(_step("one"), actor=SYSTEM, action="then")
        assert answer == 1 and await redis.get("{mg}:test:step") == b"one"
        assert record["seq"] == 2 and (await _records(redis))[-1] == record
        counted.sent.clear()  # the script is loaded now
        record, answer = await log.append_then(_step("two"), actor=SYSTEM, action="again")
        assert counted.sent == ["EVALSHA"]
        assert answer == 2 and record["seq"] == 3
        assert (await log.verify()).ok
    finally:
        await counted.aclose()


async def test_a_stale_head_runs_the_step_once_on_the_real_head(redis: aredis.Redis) -> None:
    # Two processes append; each one's guess of the head goes stale when the other writes.
    one, two = AuditLog(redis, Keys()), AuditLog(redis, Keys())
    await one.append(actor=SYSTEM, action="a1")
    await two.append(actor=SYSTEM, action="b1")
    record, answer = await one.append_then(_step(), actor=SYSTEM, action="a2")
    assert answer == 1  # ran once, after the retry on the real head
    records = await _records(redis)
    assert [r["action"] for r in records] == ["a1", "b1", "a2"]
    assert record == records[-1] and (await one.verify()).ok


async def test_when_the_record_cannot_be_written_the_step_does_not_run(
    redis: aredis.Redis,
) -> None:
    log = AuditLog(redis, Keys())
    await log.append(actor=SYSTEM, action="first")
    await redis.delete(Keys().audit_stream())
    await redis.set(Keys().audit_stream(), "not a stream")  # XADD fails
    with pytest.raises(ServiceUnavailable) as caught:
        await log.append_then(_step(), actor=SYSTEM, action="then")
    assert caught.value.extra["reason"] == "audit_unavailable"
    assert await redis.exists("{mg}:test:step", "{mg}:test:runs") == 0
    assert (await redis.get(Keys().audit_head()) or b"").startswith(b"1:")


async def test_a_step_that_fails_leaves_the_record_and_raises_its_error(
    redis: aredis.Redis,
) -> None:
    # As if the step had run on its own after the append: the record is there, the caller
    # gets the store's error, and the next record chains onto this one.
    log = AuditLog(redis, Keys())
    await redis.rpush("{mg}:test:runs", "a list, not a counter")  # INCR fails
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await log.append_then(_step(), actor=SYSTEM, action="then")
    await log.append(actor=SYSTEM, action="next")
    assert [r["action"] for r in await _records(redis)] == ["then", "next"]
    assert (await log.verify()).ok


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


# --- anchors: what the chain alone cannot show ----------------------------------------------


async def _cut_end(redis: aredis.Redis, n: int) -> None:
    """Remove the last ``n`` records and set the head back, as someone with write access to the
    store could: the chain that is left verifies on its own."""
    stream = Keys().audit_stream()
    entries = await redis.xrange(stream)
    for eid, _ in entries[-n:]:
        await redis.xdel(stream, eid)
    last = json.loads(entries[-n - 1][1][b"r"])
    await redis.set(Keys().audit_head(), f"{last['seq']}:{last['hash']}")


async def _rewrite_from(redis: aredis.Redis, index: int, **changes: Any) -> None:
    """Alter record ``index`` and recompute every hash from it on, head included."""
    stream = Keys().audit_stream()
    entries = await redis.xrange(stream)
    await redis.delete(stream)
    prev = GENESIS
    for i, (eid, fields) in enumerate(entries):
        record = json.loads(fields[b"r"])
        if i == index:
            record.update(changes)
        record["prev"] = prev
        record["hash"] = prev = chain_hash(prev, record)
        await redis.xadd(stream, {"r": json.dumps(record)}, id=eid)
    await redis.set(Keys().audit_head(), f"{len(entries)}:{prev}")


async def _five(redis: aredis.Redis) -> tuple[AuditLog, Anchor]:
    log = AuditLog(redis, Keys())
    for i in range(5):
        await log.append(actor=SYSTEM, action="freeze", target=f"t{i}")
    head = await log.head()
    assert head is not None and head.seq == 5
    return log, head


async def test_an_anchor_catches_records_cut_off_the_end(redis: aredis.Redis) -> None:
    log, head = await _five(redis)
    assert (await log.verify([head])).ok
    await _cut_end(redis, 2)
    assert (await log.verify()).ok  # the chain alone cannot tell
    result = await log.verify([head])
    assert not result.ok and result.broken_at == "end" and result.broken_seq == 3
    assert "records were removed from the end" in result.reason and str(head) in result.reason


async def test_an_anchor_catches_a_rewritten_chain(redis: aredis.Redis) -> None:
    log, head = await _five(redis)
    await _rewrite_from(redis, 1, target="something else")
    assert (await log.verify()).ok  # consistent again after the rewrite
    result = await log.verify([head])
    assert not result.ok and result.broken_seq == 5 and "rewritten" in result.reason
    middle = Anchor(2, (await _records(redis))[1]["hash"])
    assert (await log.verify([middle])).ok  # anchors only cover what they name


async def test_an_anchor_catches_an_emptied_store(redis: aredis.Redis) -> None:
    log, head = await _five(redis)
    await redis.delete(Keys().audit_stream(), Keys().audit_head())
    assert (await log.verify()).ok
    assert not (await log.verify([head])).ok


@pytest.mark.parametrize(
    "bad",
    ["", "5", "5:", ":" + "a" * 64, "0:" + "a" * 64, "-1:" + "a" * 64, "5:" + "a" * 63,
     "5:" + "A" * 64, "5:" + "g" * 64, "05:" + "a" * 64, "5 :" + "a" * 64, "五:" + "a" * 64,
     "1" * 19 + ":" + "a" * 64],
)  # fmt: skip
def test_malformed_anchors_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="SEQ:HASH"):
        Anchor.parse(bad)


async def test_the_gateway_writes_anchors_to_its_log_and_file(
    redis: aredis.Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.audit")
    log = AuditLog(redis, Keys())
    path = tmp_path / "anchors" / "audit-anchors.jsonl"
    task = asyncio.create_task(anchor_loop(log, path, 0.02))

    async def lines(n: int) -> None:  # until the file holds n anchors (the loop ticks at 20 ms)
        for _ in range(500):
            if path.exists() and len(path.read_text().splitlines()) >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"fewer than {n} anchors written")

    try:
        await asyncio.sleep(0.1)
        assert not path.exists()  # an empty chain has no head to anchor
        await log.append(actor=SYSTEM, action="a")
        await lines(1)
        await log.append(actor=SYSTEM, action="b")
        await lines(2)
        await asyncio.sleep(0.1)  # five more ticks with the head unchanged
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    anchors = read_anchor_file(path)
    assert [a.seq for a in anchors] == [1, 2]  # one line per new head, none while unchanged
    assert (await log.verify(anchors)).ok
    assert f"audit anchor {anchors[-1]}" in caplog.text


def test_a_damaged_anchor_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"seq": 1, "hash": "' + "a" * 64 + '"}\n\n{"seq": 2}\n')
    with pytest.raises(ValueError, match=r"a\.jsonl:3: not an anchor"):
        read_anchor_file(path)
    assert read_anchor_file(tmp_path / "missing.jsonl") == []


async def test_admin_verify_answers_the_head_and_checks_anchors(
    client: TestClient[Any, Any], callers: dict[str, Caller], redis: aredis.Redis
) -> None:
    await file_active_account(client, callers)
    headers = callers["auditor"].headers
    resp = await client.get("/admin/audit/verify", headers=headers)
    body = await resp.json()
    assert resp.status == 200 and body["ok"] and body["records"] == 2
    head = body["head"]
    assert head == str(await AuditLog(redis, Keys()).head())
    resp = await client.get("/admin/audit/verify", headers=headers, params={"anchor": head})
    assert (await resp.json())["anchors_checked"] == 1
    await _cut_end(redis, 1)
    resp = await client.get("/admin/audit/verify", headers=headers, params={"anchor": head})
    body = await resp.json()
    assert resp.status == 200 and not body["ok"] and body["broken_at"] == "end"
    resp = await client.get("/admin/audit/verify", headers=headers, params={"anchor": "2:xyz"})
    # The query definition names the repeated parameter's position, like a body list item.
    assert resp.status == 422 and (await resp.json())["errors"][0]["field"] == "anchor[0]"
    many = [("anchor", head)] * 101
    resp = await client.get("/admin/audit/verify", headers=headers, params=many)
    assert resp.status == 422


async def test_run_py_audit_verify_reads_the_anchor_file_and_anchor_options(
    redis: aredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    log, head = await _five(redis)
    env = {
        "REDIS_URL": redis_url,
        "PATH": "/usr/bin:/bin",
        "MEDIAGATE_SERVER__DATA_DIR": str(tmp_path),
    }

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "run.py", "audit", "verify", *extra],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    (tmp_path / "audit-anchors.jsonl").write_text(json.dumps({"seq": 5, "hash": head.hash}) + "\n")
    ok = await asyncio.to_thread(verify)
    assert ok.returncode == 0 and "1 anchors checked" in ok.stdout and str(head) in ok.stdout
    await _cut_end(redis, 1)
    cut = await asyncio.to_thread(verify)
    assert cut.returncode == 1 and "removed from the end" in cut.stdout
    other = tmp_path / "none.jsonl"
    four = await log.head()
    assert four is not None
    fine = await asyncio.to_thread(verify, "--anchor-file", str(other), "--anchor", str(four))
    assert fine.returncode == 0 and "1 anchors checked" in fine.stdout
    bad = await asyncio.to_thread(verify, "--anchor", "4:nothex")
    assert bad.returncode == 2 and "SEQ:HASH" in bad.stderr
