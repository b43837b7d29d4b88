"""Tamper-evident audit log (Art. 22): an append-only Redis Stream, each record hash-chained.

Every record holds ``seq``, ``prev`` (the hash of the record before it) and ``hash`` =
SHA-256(prev || canonical JSON of the record without ``hash``). Appending is one Lua script that
only succeeds if the chain head is still the one the record was computed against, so several
gateway processes can append concurrently without forking the chain. If a record cannot be
written the caller gets :class:`ServiceUnavailable` and must not act (fail closed).

Records never contain secrets: callers pass identifiers, hashes, field *names* and reasons.

The chain proves that no record was altered or removed *before* the head, not that the head is
the real one: whoever can write to the store can cut off the newest records and set the head
back. An **anchor** (``seq:hash`` of a head, kept outside the store) closes that gap:
:meth:`AuditLog.verify` checks that the record ``seq`` still exists with that hash. The gateway
writes one to its log and to an append-only file in the data directory every
``audit.anchor_interval_s`` (see :func:`anchor_loop`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError, ResponseError

from gateway.errors import ServiceUnavailable
from gateway.keys import Keys, text

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_MAX_APPEND_ATTEMPTS = 50

# Appends the record if the head is still ARGV[1]; else writes nothing and returns the head.
_APPEND_LUA = """
local head = redis.call('GET', KEYS[1])
if head == false then head = '0:' .. ARGV[4] end
if head ~= ARGV[1] then return head end
redis.call('XADD', KEYS[2], '*', 'r', ARGV[2])
redis.call('SET', KEYS[1], ARGV[3])
return 1
"""


# _APPEND_LUA, then (once the record is written) a step of the caller's in the same script: the
# body of a Lua function of its own KEYS and ARGV (those after the append's). Answers the head
# as _APPEND_LUA does when the guess was wrong (nothing written), else {1, the step's answer},
# or {0, error} if the step raised an error: the record is written either way.
_APPEND_THEN_LUA = """
local function step(KEYS, ARGV)
%s
end
local head = redis.call('GET', KEYS[1])
if head == false then head = '0:' .. ARGV[4] end
if head ~= ARGV[1] then return head end
redis.call('XADD', KEYS[2], '*', 'r', ARGV[2])
redis.call('SET', KEYS[1], ARGV[3])
local step_keys, step_args = {}, {}
for i = 3, #KEYS do step_keys[i - 2] = KEYS[i] end
for i = 5, #ARGV do step_args[i - 4] = ARGV[i] end
local ok, answer = pcall(step, step_keys, step_args)
if ok then return {1, answer} end
if type(answer) == 'table' and answer.err then answer = answer.err end
return {0, tostring(answer)}
"""


@dataclass(frozen=True)
class Then:
    """What :meth:`AuditLog.append_then` does in the same atomic step, once the record is
    written: ``lua``, the body of a Lua function of ``(KEYS, ARGV)`` run with ``keys`` and
    ``args`` (and returning the step's answer). The record comes first: if it cannot be
    written, the step does not run."""

    lua: str
    keys: Sequence[str]
    args: Sequence[str | bytes | int | float]


def _canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev: str, record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(prev.encode() + _canonical(body)).hexdigest()


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    name: str
    role: str
    unit: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "role": self.role, "unit": self.unit}


SYSTEM = Actor(id="system", name="mediagate", role="system", unit="")


_ANCHOR_RE = re.compile(r"([1-9][0-9]{0,17}):([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class Anchor:
    """The head of the chain at some moment, ``seq:hash``, kept outside the store."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, value: str) -> Anchor:
        """``"1234:<64 hex>"``; raises ``ValueError`` naming what is wrong."""
        m = _ANCHOR_RE.fullmatch(value.strip())
        if m is None:
            raise ValueError("an anchor is SEQ:HASH (a record number, a colon, 64 hex digits)")
        return cls(int(m.group(1)), m.group(2))

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def read_anchor_file(path: Path) -> list[Anchor]:
    """Anchors in ``path`` (JSON lines with ``seq`` and ``hash``, as :func:`anchor_loop`
    writes them); a missing file holds none. Raises ``ValueError`` with the line number of a
    malformed line: a damaged anchor file is itself a finding, never skipped."""
    if not path.exists():
        return []
    anchors = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                anchors.append(Anchor.parse(f"{data['seq']}:{data['hash']}"))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not an anchor ({exc})") from None
    return anchors


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    records: int
    broken_at: str = ""  # stream id of the first record that does not verify
    broken_seq: int = -1
    reason: str = ""
    head: Anchor | None = None  # the last record verified (None for an empty chain)
    anchors: int = 0  # how many anchors were checked


def _base(
    actor: Actor,
    action: str,
    target: str,
    result: str,
    decision: str,
    reasons: Sequence[str],
    content_sha256: str,
    request_id: str,
    details: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A record before it is chained (``seq``, ``prev`` and ``hash`` come with the head)."""
    return {
        "ts": round(time.time(), 6),
        "request_id": request_id,
        "actor": actor.as_dict(),
        "action": action,
        "target": target,
        "content_sha256": content_sha256,
        "decision": decision,
        "reasons": list(reasons),
        "result": result,
        "details": dict(details or {}),
    }


class AuditLog:
    def __init__(self, redis: aredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._script = redis.register_script(_APPEND_LUA)
        self._then_scripts: dict[str, AsyncScript] = {}  # by the step's Lua
        self._local = asyncio.Lock()  # one appender per process; others retry on conflict
        # The head this process wrote last: the first guess of the next append, which the
        # script checks (a wrong guess costs one round trip and returns the real head).
        self._head: str | None = None

    async def append(
        self,
        *,
        actor: Actor,
        action: str,
        target: str = "",
        result: str = "ok",
        decision: str = "",
        reasons: Sequence[str] = (),
        content_sha256: str = "",
        request_id: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write one record; raise :class:`ServiceUnavailable` if it cannot be written."""
        base = _base(
            actor, action, target, result, decision, reasons, content_sha256, request_id, details
        )
        record, _ = await self._write(base, None)
        return record

    async def append_then(
        self,
        then: Then,
        *,
        actor: Actor,
        action: str,
        target: str = "",
        result: str = "ok",
        decision: str = "",
        reasons: Sequence[str] = (),
        content_sha256: str = "",
        request_id: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        """:meth:`append`, and ``then`` in the same atomic step (one round trip): the record and
        the step's answer. If the record cannot be written, :class:`ServiceUnavailable` and the
        step did not run; if the step raised an error, the record is written and that error
        is raised (a ``ResponseError``), as if the step had run on its own after the append."""
        base = _base(
            actor, action, target, result, decision, reasons, content_sha256, request_id, details
        )
        record, (ok, answer) = await self._write(base, then)
        if int(ok) != 1:
            raise ResponseError(text(answer))
        return record, answer

    def _script_for(self, then: Then | None) -> AsyncScript:
        if then is None:
            return self._script
        script = self._then_scripts.get(then.lua)
        if script is None:
            script = self._redis.register_script(_APPEND_THEN_LUA % then.lua)
            self._then_scripts[then.lua] = script
        return script

    async def _write(self, base: dict[str, Any], then: Then | None) -> tuple[dict[str, Any], Any]:
        """Chain ``base`` onto the head and write it (with ``then``): the record written and
        the script's answer."""
        script = self._script_for(then)
        keys = [self._keys.audit_head(), self._keys.audit_stream(), *(then.keys if then else ())]
        extra = then.args if then else ()
        try:
            async with self._local:
                head_s, guessed = self._head, True
                if head_s is None:
                    head = await self._redis.get(self._keys.audit_head())
                    head_s, guessed = (text(head) if head else f"0:{GENESIS}"), False
                for _ in range(_MAX_APPEND_ATTEMPTS):
                    seq_s, _, prev = head_s.partition(":")
                    record = {**base, "seq": int(seq_s) + 1, "prev": prev}
                    record["hash"] = chain_hash(prev, record)
                    written = f"{record['seq']}:{record['hash']}"
                    answer = await script(
                        keys=keys, args=[head_s, _canonical(record), written, GENESIS, *extra]
                    )
                    if answer == 1 or isinstance(answer, list):  # else: the real head
                        self._head = written
                        return record, answer
                    head_s = text(answer)  # another process appended: chain onto the real head
                    if not guessed:
                        await asyncio.sleep(0.001)
                    guessed = False
        except RedisError as exc:
            self._head = None
            log.error("audit log write failed: %s", type(exc).__name__)
            raise ServiceUnavailable(
                "the audit log cannot be written; nothing was done", reason="audit_unavailable"
            ) from exc
        raise ServiceUnavailable(
            "the audit log is too contended to write; nothing was done", reason="audit_contended"
        )

    async def records(self, *, since_ts: float = 0.0) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Every record in order, with its stream id."""
        start = f"{int(since_ts * 1000)}-0" if since_ts else "-"
        while True:
            batch = await self._redis.xrange(self._keys.audit_stream(), min=start, count=500)
            if not batch:
                return
            for entry_id, fields in batch:
                raw = (fields or {}).get(b"r") or b"{}"
                yield text(entry_id or b""), json.loads(raw)
            start = "(" + text(batch[-1][0] or b"")

    async def head(self) -> Anchor | None:
        """The current chain head as an anchor (``None`` before the first record)."""
        raw = await self._redis.get(self._keys.audit_head())
        return Anchor.parse(text(raw)) if raw else None

    async def verify(self, anchors: Sequence[Anchor] = ()) -> VerifyResult:
        """Recompute the chain; name the first record that does not verify. Each of ``anchors``
        must name a record that is still there with the same hash (else records were cut off
        the end, or the chain was rewritten from some record on)."""
        want = {a.seq: a for a in anchors}
        prev, expected_seq, count = GENESIS, 1, 0
        async for eid, record in self.records():
            count += 1
            if record.get("seq") != expected_seq:
                return VerifyResult(
                    False,
                    count,
                    eid,
                    record.get("seq", -1),
                    f"sequence {record.get('seq')} where {expected_seq} expected",
                )
            if record.get("prev") != prev:
                return VerifyResult(
                    False,
                    count,
                    eid,
                    expected_seq,
                    "prev does not match the hash of the record before",
                )
            if chain_hash(prev, record) != record.get("hash"):
                return VerifyResult(
                    False, count, eid, expected_seq, "hash does not match the record's content"
                )
            anchor = want.get(expected_seq)
            if anchor is not None and anchor.hash != record["hash"]:
                return VerifyResult(
                    False,
                    count,
                    eid,
                    expected_seq,
                    f"the record differs from anchor {anchor}: the chain was rewritten",
                )
            prev, expected_seq = record["hash"], expected_seq + 1
        last = expected_seq - 1
        beyond = [a for a in anchors if a.seq > last]
        if beyond:
            first = min(beyond, key=lambda a: a.seq)
            return VerifyResult(
                False,
                count,
                "end",
                last,
                f"the chain ends at record {last}, but anchor {first} names a later one: "
                "records were removed from the end",
            )
        head = await self._redis.get(self._keys.audit_head())
        if head is not None and text(head) != f"{last}:{prev}" and count:
            return VerifyResult(
                False,
                count,
                "head",
                last,
                "the chain head does not match the last record (truncated?)",
            )
        return VerifyResult(
            True, count, head=Anchor(last, prev) if count else None, anchors=len(anchors)
        )

    async def ping(self) -> bool:
        try:
            await self._redis.exists(self._keys.audit_head())
        except RedisError:
            return False
        return True


async def anchor_loop(audit: AuditLog, path: Path, interval_s: float) -> None:
    """Every ``interval_s``, if the chain grew, log its head and append it to ``path`` (JSON
    lines: ``ts``, ``seq``, ``hash``). The log line is meant to leave the host with the logs;
    the file is what ``run.py audit verify`` checks by default. Store errors are logged and the
    loop goes on; it ends when cancelled."""
    last: Anchor | None = None
    while True:
        await asyncio.sleep(interval_s)
        try:
            head = await audit.head()
        except (RedisError, ValueError) as exc:
            log.warning("audit anchor skipped: %s", type(exc).__name__)
            continue
        if head is None or head == last:
            continue
        log.info("audit anchor %s", head)
        line = json.dumps({"ts": round(time.time(), 3), "seq": head.seq, "hash": head.hash})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            log.warning("audit anchor not written to %s: %s", path, exc.strerror)
        last = head
