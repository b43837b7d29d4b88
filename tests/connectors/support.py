"""Shared test helpers for connector tests: a :class:`PublishContext` backed by the real Redis.

Connector tests (WeChat, Weibo, WordPress, webhook) use :class:`RedisPublishContext` the way the
publish pipeline would: checkpoints are written to a Redis hash per job, so a *new* context built
with :meth:`RedisPublishContext.resume` sees exactly what a crashed gateway process left behind; the
:class:`RedisTokenCache` is shared by every context on the same Redis (as two gateway processes
would share it) and its ``lock`` is a real Redis lock.

``crash_on`` simulates a gateway process dying at a checkpoint: ``checkpoint()`` raises
:class:`SimulatedCrash` when it is asked to record that key, *before* recording it, so the step
that just ran on the platform is not checkpointed (like a SIGKILL between two steps).

Example::

    ctx = await RedisPublishContext.create(redis, account=ACCOUNT, credentials={...})
    result = await connector.publish(post, ctx)
    resumed = await RedisPublishContext.resume(redis, ctx.job_id, account=ACCOUNT, credentials=...)
    result = await connector.status(resumed)
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import redis.asyncio as aredis
from aiohttp.test_utils import TestServer

from connectors.base import (
    AccountRef,
    Connector,
    OutboundPost,
    Pending,
    Published,
    Result,
    RetryLater,
    Unconfirmed,
)

_STATE_PREFIX = "test:{connectors}:job:"
_TOKEN_PREFIX = "test:{connectors}:token:"
_LOCK_PREFIX = "test:{connectors}:token-lock:"


class SimulatedCrash(Exception):
    """Raised by ``checkpoint`` when a test asked the "process" to die at that checkpoint."""


class RedisTokenCache:
    """A :class:`connectors.base.TokenCache` on a real Redis (not encrypted: tests only).

    ``fetches_locked`` counts how many times the lock was acquired, for tests that assert the
    single-refresher rule; ``namespace`` separates caches that must not share tokens.
    """

    def __init__(self, redis: aredis.Redis, namespace: str = "") -> None:
        self._redis = redis
        self._ns = namespace
        self.locks_taken = 0

    async def get(self, name: str) -> str | None:
        raw = await self._redis.get(_TOKEN_PREFIX + self._ns + name)
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def set(self, name: str, value: str, ttl_s: float) -> None:
        await self._redis.set(_TOKEN_PREFIX + self._ns + name, value, px=max(1, int(ttl_s * 1000)))

    async def delete(self, name: str) -> None:
        await self._redis.delete(_TOKEN_PREFIX + self._ns + name)

    @asynccontextmanager
    async def _locked(self, name: str, ttl_s: float) -> AsyncIterator[None]:
        lock = self._redis.lock(
            _LOCK_PREFIX + self._ns + name, timeout=ttl_s, blocking_timeout=ttl_s, sleep=0.01
        )
        acquired = await lock.acquire()
        if not acquired:
            raise TimeoutError(f"token lock {name!r} not acquired within {ttl_s} s")
        self.locks_taken += 1
        try:
            yield
        finally:
            await lock.release()

    def lock(self, name: str, ttl_s: float = 30.0) -> Any:
        """An async context manager holding the Redis lock ``name`` (one refresher at a time)."""
        return self._locked(name, ttl_s)


@dataclass
class RedisPublishContext:
    """A :class:`connectors.base.PublishContext` whose checkpoints live in a Redis hash."""

    redis: aredis.Redis
    job_id: str
    account: AccountRef
    tokens: RedisTokenCache
    secrets: Mapping[str, str]
    state: dict[str, Any] = field(default_factory=dict)
    crash_on: str | None = None
    credential_opens: int = 0
    checkpoints: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def create(
        cls,
        redis: aredis.Redis,
        *,
        account: AccountRef,
        credentials: Mapping[str, str],
        tokens: RedisTokenCache | None = None,
        job_id: str | None = None,
        crash_on: str | None = None,
    ) -> RedisPublishContext:
        """A fresh job (no checkpoints yet)."""
        jid = job_id or uuid.uuid4().hex
        await redis.delete(_STATE_PREFIX + jid)
        return cls(
            redis=redis,
            job_id=jid,
            account=account,
            tokens=tokens or RedisTokenCache(redis),
            secrets=dict(credentials),
            crash_on=crash_on,
        )

    @classmethod
    async def resume(
        cls,
        redis: aredis.Redis,
        job_id: str,
        *,
        account: AccountRef,
        credentials: Mapping[str, str],
        tokens: RedisTokenCache | None = None,
        crash_on: str | None = None,
    ) -> RedisPublishContext:
        """The same job as another process would pick it up: state reloaded from Redis."""
        return cls(
            redis=redis,
            job_id=job_id,
            account=account,
            tokens=tokens or RedisTokenCache(redis),
            secrets=dict(credentials),
            state=await load_state(redis, job_id),
            crash_on=crash_on,
        )

    async def credentials(self) -> Mapping[str, str]:
        self.credential_opens += 1
        return dict(self.secrets)

    async def checkpoint(self, **updates: Any) -> None:
        if self.crash_on is not None and self.crash_on in updates:
            raise SimulatedCrash(f"simulated crash before checkpointing {self.crash_on!r}")
        if updates:
            encoded: dict[str | bytes, str | bytes] = {
                k: json.dumps(v, ensure_ascii=False) for k, v in updates.items()
            }
            await self.redis.hset(_STATE_PREFIX + self.job_id, mapping=encoded)  # type: ignore[arg-type]
        self.state.update(updates)
        self.checkpoints.append(dict(updates))

    def __repr__(self) -> str:  # never show the secrets
        return f"RedisPublishContext(job_id={self.job_id!r}, account={self.account.id!r})"


async def load_state(redis: aredis.Redis, job_id: str) -> dict[str, Any]:
    """The checkpoints recorded for ``job_id`` (what a resuming process would see)."""
    raw = await redis.hgetall(_STATE_PREFIX + job_id)
    return {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in raw.items()}


async def drive(
    connector: Connector,
    post: OutboundPost,
    resume_ctx: Callable[[], Awaitable[Any]],
    *,
    outcomes: list[Exception] | None = None,
    max_rounds: int = 30,
    wait_s: float = 0.1,
) -> Result:
    """Act like the publish pipeline until the item is :class:`Published`.

    Each round takes a context from ``resume_ctx()`` (normally :meth:`RedisPublishContext.resume`,
    i.e. the job as another process would see it): ``RetryLater`` → ``publish()`` again (it
    resumes from the checkpoints), ``Pending``/``Unconfirmed`` → ``status()``. Outcomes met on
    the way are appended to ``outcomes``; other exceptions propagate.
    """
    use_status = False
    for _ in range(max_rounds):
        ctx = await resume_ctx()
        try:
            result = await (connector.status(ctx) if use_status else connector.publish(post, ctx))
        except RetryLater as exc:
            if outcomes is not None:
                outcomes.append(exc)
            use_status = False
            await asyncio.sleep(min(exc.after_s, wait_s))
            continue
        except Unconfirmed as exc:
            if outcomes is not None:
                outcomes.append(exc)
            use_status = True
            await asyncio.sleep(wait_s)
            continue
        if isinstance(result, Published):
            return result
        assert isinstance(result, Pending)
        use_status = True
        await asyncio.sleep(min(result.poll_after_s, 0.02))
    raise AssertionError(f"job not published after {max_rounds} rounds")


async def emulator_get(server: TestServer, path: str) -> Any:
    """GET an emulator control route (``/_emulator/items``, ``/_emulator/counters`` ...)."""
    async with aiohttp.ClientSession() as s, s.get(server.make_url(path)) as r:
        assert r.status < 300, await r.text()
        return await r.json()


async def emulator_post(server: TestServer, path: str, body: Mapping[str, Any]) -> Any:
    """POST to an emulator control route (``/_emulator/faults`` ...)."""
    async with aiohttp.ClientSession() as s, s.post(server.make_url(path), json=body) as r:
        assert r.status < 300, await r.text()
        return await r.json()


__all__ = [
    "RedisPublishContext",
    "RedisTokenCache",
    "SimulatedCrash",
    "drive",
    "emulator_get",
    "emulator_post",
    "load_state",
]
