"""Submissions in the store: one JSON record each, indexed by time, state and due time.

Every change is a read-modify-write under ``WATCH`` of the record, so two processes (or two
approvers clicking at once) never lose each other's change: the loser re-reads and re-applies.
The approval tokens the desk signed or received are kept in a hash of their own and never leave
the gateway except into the publish gate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aredis

from gateway.desk.model import Submission
from gateway.errors import NotFound
from gateway.keys import Keys, text

Change = Callable[[Submission], Submission]


class SubmissionStore:
    def __init__(self, redis: aredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._release_lease = redis.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('DEL', KEYS[1]) else return 0 end"
        )

    async def create(self, sub: Submission, tokens: Mapping[str, str] | None = None) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.submission(sub.id), sub.dump())
            pipe.zadd(self._keys.submissions(), {sub.id: sub.created_at})
            pipe.zadd(self._keys.submissions_by_state(sub.state), {sub.id: sub.created_at})
            if tokens:
                pipe.hset(
                    self._keys.submission_tokens(sub.id),
                    mapping={k: v for k, v in tokens.items()},
                )
            await pipe.execute()

    async def get(self, submission_id: str) -> Submission | None:
        raw = await self._redis.get(self._keys.submission(submission_id))
        return Submission.from_json(raw) if raw else None

    async def require(self, submission_id: str) -> Submission:
        sub = await self.get(submission_id)
        if sub is None:
            raise NotFound(f"no submission {submission_id!r}")
        return sub

    async def update(
        self,
        submission_id: str,
        change: Change,
        *,
        tokens: Mapping[str, str] | None = None,
        due_at: float | None = None,
    ) -> Submission:
        """Apply ``change`` to the current record atomically; ``change`` may raise to refuse.

        ``tokens`` are added to the submission's token hash in the same transaction; ``due_at``
        puts it on the publish schedule (leaving the schedule happens when it leaves
        ``approved``).
        """
        key = self._keys.submission(submission_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise NotFound(f"no submission {submission_id!r}")
                    old = Submission.from_json(raw)
                    new = change(old)
                    pipe.multi()
                    pipe.set(key, new.dump())
                    if new.state != old.state:
                        pipe.zrem(self._keys.submissions_by_state(old.state), old.id)
                        pipe.zadd(
                            self._keys.submissions_by_state(new.state), {new.id: new.created_at}
                        )
                    if tokens:
                        pipe.hset(
                            self._keys.submission_tokens(new.id),
                            mapping={k: v for k, v in tokens.items()},
                        )
                    if due_at is not None and new.state == "approved":
                        pipe.zadd(self._keys.submissions_due(), {new.id: due_at})
                    elif new.state != "approved":
                        pipe.zrem(self._keys.submissions_due(), new.id)
                    await pipe.execute()
                    return new
                except aredis.WatchError:
                    continue

    async def tokens(self, submission_id: str) -> dict[str, str]:
        raw = await self._redis.hgetall(self._keys.submission_tokens(submission_id))
        return {text(k): text(v) for k, v in raw.items()}

    async def newest(self, *, state: str | None = None, limit: int = 100) -> list[Submission]:
        key = self._keys.submissions_by_state(state) if state else self._keys.submissions()
        ids: list[Any] = await self._redis.zrevrange(key, 0, limit - 1)
        return await self._many([text(i) for i in ids])

    async def in_states(self, states: frozenset[str] | tuple[str, ...]) -> list[Submission]:
        ids: list[str] = []
        for state in states:
            found: list[Any] = await self._redis.zrevrange(
                self._keys.submissions_by_state(state), 0, -1
            )
            ids.extend(text(i) for i in found)
        return await self._many(ids)

    async def due(self, now: float, limit: int = 20) -> list[str]:
        ids: list[Any] = await self._redis.zrangebyscore(
            self._keys.submissions_due(), "-inf", now, start=0, num=limit
        )
        return [text(i) for i in ids]

    async def claim(self, submission_id: str, owner: str, lease_s: float) -> bool:
        return bool(
            await self._redis.set(
                self._keys.submission_lease(submission_id), owner, nx=True, px=int(lease_s * 1000)
            )
        )

    async def release(self, submission_id: str, owner: str) -> None:
        """Give the lease back if it is still ``owner``'s (it may have expired meanwhile)."""
        await self._release_lease(keys=[self._keys.submission_lease(submission_id)], args=[owner])

    async def _many(self, ids: list[str]) -> list[Submission]:
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.submission(i) for i in ids])
        return [Submission.from_json(r) for r in raws if r]
