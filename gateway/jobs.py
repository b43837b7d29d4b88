"""Publish jobs: the outbox and state machine of every approved post (Art. 19, 22).

A job is created in one atomic step together with the consumption of its approval tokens'
``jti`` (a Lua script: either every token is unused and all of them are consumed and the job is
recorded, or nothing changes and the replayed token is named). An update or deletion of a
published item also takes that item's change lock in the same step, so only one change of it is
in flight at a time. From then on the delivery worker
moves it through its states::

    approved ─▶ dispatching ─▶ pending (platform works asynchronously) ─▶ published
                     │                                               └─▶ failed
                     ├─▶ unconfirmed  (the platform may have it; a human or a later
                     │                 reconciliation decides)
                     └─▶ needs_reauth (credentials revoked; an admin refreshes the vault)

Connector checkpoints live in a hash of their own, so a job resumed by another process after a
crash continues from the last finished step.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, get_args

import redis.asyncio as aredis

from gateway.audit import Then
from gateway.errors import Conflict, NotFound, TokenReplayed
from gateway.keys import Keys, text

JobState = Literal[
    "approved",
    "dispatching",
    "pending",
    "published",
    "failed",
    "unconfirmed",
    "needs_reauth",
    "deleted",
]
JobKind = Literal["publish", "update", "delete", "interaction"]
STATES: tuple[str, ...] = get_args(JobState)
FINAL_STATES = frozenset({"published", "failed", "unconfirmed", "needs_reauth", "deleted"})
ACTIVE_STATES = frozenset({"approved", "dispatching", "pending"})

# The body of a Lua function of (KEYS, ARGV): run on its own (_CREATE_LUA) or right after the
# audit record of the approval, in the same script (gateway.audit.Then).
_CREATE_STEP = """
-- KEYS: job, post, all, state-set, queue, history, change lock, then one jti key per token
-- ARGV: job json, post json, now, job id, history json, take the change lock ('1'/'0'),
--       then one ttl (s) per token
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[7]) == 1 then return -1 end
for i = 8, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return i - 7 end
end
for i = 8, #KEYS do
  redis.call('SET', KEYS[i], ARGV[4], 'EX', ARGV[i - 1])
end
if ARGV[6] == '1' then redis.call('SET', KEYS[7], ARGV[4]) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[4])
redis.call('RPUSH', KEYS[6], ARGV[5])
return 0
"""
_CREATE_LUA = f"local function create(KEYS, ARGV)\n{_CREATE_STEP}\nend\nreturn create(KEYS, ARGV)"


@dataclass(frozen=True, slots=True)
class ApprovalRef:
    """Who approved: recorded with the job, never the token itself."""

    jti: str
    sub: str
    role: str
    unit: str
    iss: str
    exp: int
    name: str = ""


@dataclass(frozen=True)
class Job:
    id: str
    kind: JobKind
    account: str
    platform: str
    unit: str
    submitted_by: str
    content_sha256: str
    state: JobState
    created_at: float
    updated_at: float
    category: str = ""
    title: str = ""
    origin: str = ""  # for update/delete: the job that published the item
    approvals: tuple[ApprovalRef, ...] = ()
    required_roles: tuple[str, ...] = ()
    attempts: int = 0
    platform_id: str = ""
    url: str = ""
    reason: str = ""
    audit_due: str = ""  # an outcome whose audit record is still to be written
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict(self)``, without its deep copy of every string and number (a
        job is frozen; only ``details`` is copied)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["approvals"] = tuple(
            {f.name: getattr(a, f.name) for f in _APPROVAL_FIELDS} for a in self.approvals
        )
        data["details"] = copy.deepcopy(dict(self.details))
        return data

    def public(self) -> dict[str, Any]:
        data = self.as_dict()
        data["approvals"] = [{k: v for k, v in a.items() if k != "exp"} for a in data["approvals"]]
        data.pop("audit_due", None)
        return data

    @classmethod
    def from_json(cls, raw: bytes | str) -> Job:
        data = json.loads(raw)
        data["approvals"] = tuple(ApprovalRef(**a) for a in data.get("approvals", ()))
        data["required_roles"] = tuple(data.get("required_roles", ()))
        return cls(**data)

    def dump(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=True)

    @property
    def checkpoint_job(self) -> str:
        """Whose checkpoints this job reads and writes (an edit continues its origin's)."""
        return self.origin or self.id


_APPROVAL_FIELDS = fields(ApprovalRef)


def new_job_id() -> str:
    return "job_" + secrets.token_hex(10)


def _history(state: str, note: str = "", **extra: Any) -> str:
    return json.dumps(
        {"state": state, "at": round(time.time(), 6), "note": note, **extra}, ensure_ascii=False
    )


class JobStore:
    def __init__(self, redis: aredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._create = redis.register_script(_CREATE_LUA)
        self._renew = redis.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end"
        )
        self._release = redis.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('DEL', KEYS[1]) else return 0 end"
        )

    async def create(self, job: Job, post: Mapping[str, Any], *, now: float | None = None) -> Job:
        """Record ``job`` and consume its tokens' ``jti`` in one atomic step.

        Raises :class:`TokenReplayed` naming the first token already used for this account.
        """
        step = self.create_step(job, post, now=now)
        return await self.created(job, await self._create(keys=step.keys, args=step.args))

    def create_step(self, job: Job, post: Mapping[str, Any], *, now: float | None = None) -> Then:
        """:meth:`create` as a step of the audit record that approves ``job``
        (:meth:`gateway.audit.AuditLog.append_then`); :meth:`created` reads its answer."""
        now = time.time() if now is None else now
        jti_keys = [self._keys.jti(job.account, a.jti) for a in job.approvals]
        ttls = [str(max(60, int(a.exp - now) + 120)) for a in job.approvals]
        keys = [
            self._keys.job(job.id),
            self._keys.job_post(job.id),
            self._keys.jobs_all(),
            self._keys.jobs_by_state(job.state),
            self._keys.job_queue(),
            self._keys.job_history(job.id),
            self._change_lock(job.origin or job.id),
            *jti_keys,
        ]
        args = [
            job.dump(),
            json.dumps(post, ensure_ascii=False),
            str(now),
            job.id,
            _history(job.state, "approvals verified; job recorded"),
            "1" if job.origin else "0",
            *ttls,
        ]
        return Then(_CREATE_STEP, keys, args)

    async def created(self, job: Job, answer: Any) -> Job:
        """``job`` if the step of :meth:`create_step` answered that it recorded it; else
        :class:`Conflict` (another change of its post is in flight) or :class:`TokenReplayed`
        (naming the first token already used for this account)."""
        replayed = int(answer)
        if replayed < 0:
            holder = await self._redis.get(self._change_lock(job.origin))
            raise Conflict(
                f"another change of post {job.origin} is still in flight",
                reason="busy",
                job=text(holder) if holder else "",
            )
        if replayed:
            ref = job.approvals[replayed - 1]
            raise TokenReplayed(
                f"approval token {ref.jti} was already used for account {job.account}",
                jti=ref.jti,
                account=job.account,
            )
        return job

    def _change_lock(self, origin: str) -> str:
        """Held by the one update/delete job of a published item while it is in flight (Art. 19):
        taken atomically with recording that job, released when it reaches a final state."""
        return self._keys.job_lease(f"{origin}:change")

    async def get(self, job_id: str) -> Job | None:
        raw = await self._redis.get(self._keys.job(job_id))
        return Job.from_json(raw) if raw else None

    async def require(self, job_id: str) -> Job:
        job = await self.get(job_id)
        if job is None:
            raise NotFound(f"no post {job_id!r}")
        return job

    async def post(self, job_id: str) -> dict[str, Any]:
        raw = await self._redis.get(self._keys.job_post(job_id))
        if raw is None:
            raise NotFound(f"post content of {job_id!r} is missing")
        data: dict[str, Any] = json.loads(raw)
        return data

    async def history(self, job_id: str) -> list[dict[str, Any]]:
        return [
            json.loads(r) for r in await self._redis.lrange(self._keys.job_history(job_id), 0, -1)
        ]

    async def checkpoints(self, job_id: str) -> dict[str, Any]:
        raw = await self._redis.hgetall(self._keys.job_checkpoints(job_id))
        return {text(k): json.loads(v) for k, v in raw.items()}

    async def checkpoint(self, job_id: str, updates: Mapping[str, Any]) -> None:
        if updates:
            await self._redis.hset(
                self._keys.job_checkpoints(job_id),
                mapping={k: json.dumps(v, ensure_ascii=False) for k, v in updates.items()},
            )

    async def list_ids(
        self, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[str]:
        key = self._keys.jobs_by_state(state) if state else self._keys.jobs_all()
        ids: list[Any] = await self._redis.zrevrange(key, offset, offset + limit - 1)
        return [text(i) for i in ids]

    async def list_jobs(
        self, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Job]:
        ids = await self.list_ids(state=state, limit=limit, offset=offset)
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.job(i) for i in ids])
        return [Job.from_json(r) for r in raws if r]

    async def in_range(self, start_ts: float, end_ts: float) -> list[Job]:
        ids: list[Any] = await self._redis.zrangebyscore(
            self._keys.jobs_all(), start_ts, f"({end_ts}"
        )
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.job(text(i)) for i in ids])
        return [Job.from_json(r) for r in raws if r]

    async def transition(
        self,
        job_id: str,
        to: JobState,
        *,
        allowed_from: Sequence[str] | None = None,
        note: str = "",
        due_at: float | None = None,
        **changes: Any,
    ) -> Job:
        """Move a job to ``to`` (only from ``allowed_from``), record history, (de)queue it.

        ``due_at`` re-queues the job for the worker at that time; final states leave the queue.
        """
        key = self._keys.job(job_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise NotFound(f"no post {job_id!r}")
                    old = Job.from_json(raw)
                    lock = self._change_lock(old.origin) if old.origin else ""
                    release = False
                    if lock and to in FINAL_STATES:
                        await pipe.watch(lock)
                        release = await pipe.get(lock) in (job_id, job_id.encode())
                    if allowed_from is not None and old.state not in allowed_from:
                        raise Conflict(
                            f"post {job_id} is {old.state}; this needs one of "
                            f"{', '.join(allowed_from)}",
                            state=old.state,
                        )
                    new = replace(old, state=to, updated_at=time.time(), **changes)
                    pipe.multi()
                    pipe.set(key, new.dump())
                    if old.state != to:
                        pipe.zrem(self._keys.jobs_by_state(old.state), job_id)
                        pipe.zadd(self._keys.jobs_by_state(to), {job_id: old.created_at})
                        pipe.rpush(
                            self._keys.job_history(job_id),
                            _history(to, note, **({"reason": new.reason} if new.reason else {})),
                        )
                    elif note:
                        pipe.rpush(self._keys.job_history(job_id), _history(to, note))
                    if due_at is not None:
                        pipe.zadd(self._keys.job_queue(), {job_id: due_at})
                    elif to in FINAL_STATES and not new.audit_due:
                        pipe.zrem(self._keys.job_queue(), job_id)
                    if release:
                        pipe.delete(lock)
                    await pipe.execute()
                    return new
                except aredis.WatchError:
                    continue

    async def requeue(self, job_id: str, due_at: float) -> None:
        await self._redis.zadd(self._keys.job_queue(), {job_id: due_at})

    async def dequeue(self, job_id: str) -> None:
        await self._redis.zrem(self._keys.job_queue(), job_id)

    async def due(self, now: float, limit: int = 20) -> list[str]:
        ids: list[Any] = await self._redis.zrangebyscore(
            self._keys.job_queue(), "-inf", now, start=0, num=limit
        )
        return [text(i) for i in ids]

    async def claim(self, job_id: str, owner: str, lease_s: float) -> bool:
        return bool(
            await self._redis.set(
                self._keys.job_lease(job_id), owner, nx=True, px=int(lease_s * 1000)
            )
        )

    async def renew(self, job_id: str, owner: str, lease_s: float) -> bool:
        return bool(
            await self._renew(
                keys=[self._keys.job_lease(job_id)], args=[owner, int(lease_s * 1000)]
            )
        )

    async def release(self, job_id: str, owner: str) -> None:
        await self._release(keys=[self._keys.job_lease(job_id)], args=[owner])

    async def active_for(self, origin: str) -> Job | None:
        """An update/delete job still in flight for the item published by ``origin``."""
        for state in ACTIVE_STATES:
            for job in await self.list_jobs(state=state, limit=1000):
                if origin in (job.id, job.origin):
                    return job
        return None
