"""WebhookConnector against the loopback webhook-CMS emulator, checkpoints in the real Redis."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestServer

from connectors.base import (
    AccountRef,
    Image,
    NeedsReauthorisation,
    OutboundPost,
    Pending,
    PermanentFailure,
    Published,
    RetryLater,
)
from connectors.emulators import faults
from connectors.emulators.webhook_cms import STATE_KEY, make_app, sign
from connectors.webhook import WebhookConnector, signature
from tests.connectors.support import RedisPublishContext, SimulatedCrash, drive

SECRET = "HOOK-SECRET-5b7e1d0c9a"  # recognisable: must never show up in messages or logs
CREDS = {"secret": SECRET}


def _image(name: str, data: bytes) -> Image:
    return Image(name, "image/jpeg", data, hashlib.sha256(data).hexdigest())


COVER = _image("cover.jpg", b"\xff\xd8cover")
INLINE = (_image("a.jpg", b"\xff\xd8a"),)


def make_post(**kw: Any) -> OutboundPost:
    fields: dict[str, Any] = {
        "title": "新园区启用",
        "digest": "新园区今日启用",
        "author": "行政部",
        "content": '<p>园区介绍</p><img src="image:0"><p>“欢迎参观”</p>',
        "source": "本公司",
        "category": "news",
        "content_sha256": "2" * 64,
        "cover": COVER,
        "images": INLINE,
    }
    fields.update(kw)
    return OutboundPost(**fields)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def server(aiohttp_server: Any) -> TestServer:
    return await aiohttp_server(make_app(secret=SECRET))


def account(server: TestServer) -> AccountRef:
    return AccountRef(
        "cms", "webhook", "门户", {"base_url": str(server.make_url("")), "tags": ["园区"]}
    )


def connector(session: aiohttp.ClientSession, **kw: Any) -> WebhookConnector:
    return WebhookConnector.from_config({"timeout_s": 2.0, **kw}, session=session)


async def new_ctx(redis: aredis.Redis, server: TestServer, **kw: Any) -> RedisPublishContext:
    return await RedisPublishContext.create(redis, account=account(server), credentials=CREDS, **kw)


async def resume(redis: aredis.Redis, ctx: RedisPublishContext) -> RedisPublishContext:
    return await RedisPublishContext.resume(
        redis, ctx.job_id, account=ctx.account, credentials=CREDS
    )


def live(server: TestServer) -> list[Any]:
    return [a for a in server.app[STATE_KEY].articles.values() if not a.deleted]


async def test_publish_end_to_end_reads_back(server: TestServer, session: Any, redis: Any) -> None:
    ctx = await new_ctx(redis, server)
    result = await connector(session).publish(make_post(), ctx)
    assert isinstance(result, Published) and result.details["how"] == "created"
    async with session.get(server.make_url("/_emulator/items")) as resp:
        [item] = await resp.json()
    assert item["id"] == result.platform_id and item["external_id"] == ctx.job_id
    assert item["title"] == "新园区启用" and "“欢迎参观”" in item["content_html"]
    assert "image:0" not in item["content_html"] and item["images"][0] in item["content_html"]
    async with session.get(item["cover_image"]) as resp:
        assert await resp.read() == COVER.data
    assert (await connector(session).status(ctx)).platform_id == result.platform_id


async def test_same_idempotency_key_replays_without_duplicate(
    server: TestServer, session: Any, redis: Any
) -> None:
    ctx = await new_ctx(redis, server)
    first = await connector(session).publish(make_post(), ctx)
    # a second gateway process that never saw the checkpoint repeats the create
    fresh = await RedisPublishContext.create(
        redis, account=ctx.account, credentials=CREDS, job_id=ctx.job_id
    )
    again = await connector(session).publish(make_post(), fresh)
    assert again.platform_id == first.platform_id and again.details["how"] == "replayed"
    assert len(live(server)) == 1 and server.app[STATE_KEY].counters["replayed"] == 1


async def test_drop_after_apply_then_lookup(server: TestServer, session: Any, redis: Any) -> None:
    server.app[faults.FAULTS_KEY].add(path="/posts", drop_after_apply=True, times=1)
    ctx = await new_ctx(redis, server)
    result = await connector(session).publish(make_post(), ctx)
    assert result.details["how"] == "found after a lost answer" and len(live(server)) == 1


async def test_drop_with_failed_lookup_is_retried_safely(
    server: TestServer, session: Any, redis: Any
) -> None:
    fl = server.app[faults.FAULTS_KEY]
    fl.add(path="/posts", drop_after_apply=True, times=1)  # the create
    fl.add(path="/posts", status=500, times=1)  # then the lookup by external_id
    ctx = await new_ctx(redis, server)
    with pytest.raises(RetryLater, match="Idempotency-Key"):
        await connector(session).publish(make_post(), ctx)
    assert len(live(server)) == 1
    # the repeat goes out with the same Idempotency-Key (or is found by the lookup)
    result = await connector(session).publish(make_post(), await resume(redis, ctx))
    assert isinstance(result, Published) and len(live(server)) == 1


async def test_5xx_then_retry_creates_once(server: TestServer, session: Any, redis: Any) -> None:
    server.app[faults.FAULTS_KEY].add(path="/posts", status=503, times=1)
    ctx = await new_ctx(redis, server)
    with pytest.raises(RetryLater):
        await connector(session).publish(make_post(), ctx)
    assert live(server) == []
    await connector(session).publish(make_post(), await resume(redis, ctx))
    assert len(live(server)) == 1


async def test_hang_then_retry_creates_once(server: TestServer, session: Any, redis: Any) -> None:
    server.app[faults.FAULTS_KEY].add(path="/posts", hang=True, times=1)
    ctx = await new_ctx(redis, server)
    with pytest.raises(RetryLater):
        await connector(session, timeout_s=0.5).publish(make_post(), ctx)
    await connector(session).publish(make_post(), await resume(redis, ctx))
    assert len(live(server)) == 1


async def test_crash_after_create_resumes_without_duplicate(
    server: TestServer, session: Any, redis: Any
) -> None:
    ctx = await new_ctx(redis, server, crash_on="webhook_id")
    with pytest.raises(SimulatedCrash):
        await connector(session).publish(make_post(), ctx)
    result = await connector(session).publish(make_post(), await resume(redis, ctx))
    assert result.details["how"] == "found on resume" and len(live(server)) == 1


async def test_emulator_checks_signature_and_replay_window(
    server: TestServer, session: Any
) -> None:
    body = json.dumps({"title": "x"}).encode()
    url = server.make_url("/posts")
    now = str(int(time.time()))
    async with session.post(
        url, data=body, headers={"X-Gateway-Timestamp": now, "X-Gateway-Signature": "sha256=00"}
    ) as resp:
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "invalid_signature"
    old = str(int(time.time()) - 600)
    headers = {"X-Gateway-Timestamp": old, "X-Gateway-Signature": sign(SECRET, old, body)}
    async with session.post(url, data=body, headers=headers) as resp:
        assert (await resp.json())["error"]["code"] == "stale_timestamp"
    headers = {
        "X-Gateway-Timestamp": now,
        "X-Gateway-Signature": sign(SECRET, now, body),
        "Idempotency-Key": "k",
    }
    async with session.post(url, data=body, headers=headers) as resp:
        assert resp.status == 201
    other = json.dumps({"title": "y"}).encode()
    headers["X-Gateway-Signature"] = sign(SECRET, now, other)
    async with session.post(url, data=other, headers=headers) as resp:
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "idempotency_conflict"
    assert signature(SECRET, now, body) == sign(SECRET, now, body)


async def test_revoked_secret_needs_reauthorisation(
    server: TestServer, session: Any, redis: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.post(server.make_url("/_emulator/revoke")):
        pass
    with pytest.raises(NeedsReauthorisation, match="invalid_signature") as info:
        await connector(session).publish(make_post(), await new_ctx(redis, server))
    assert SECRET not in str(info.value) and SECRET not in caplog.text
    assert live(server) == []


async def test_update_and_delete(server: TestServer, session: Any, redis: Any) -> None:
    ctx = await new_ctx(redis, server)
    c = connector(session)
    first = await c.publish(make_post(), ctx)
    updated = await c.update(make_post(title="新园区启用（更新）"), ctx)
    assert updated.platform_id == first.platform_id
    assert live(server)[0].body["title"] == "新园区启用（更新）"
    assert (await c.delete(ctx)).platform_id == first.platform_id and live(server) == []
    assert (await c.delete(await resume(redis, ctx))).platform_id == first.platform_id
    with pytest.raises(PermanentFailure):
        await c.status(ctx)


async def test_status_without_an_item_asks_to_publish(
    server: TestServer, session: Any, redis: Any
) -> None:
    with pytest.raises(RetryLater):
        await connector(session).status(await new_ctx(redis, server))


def test_payload_is_deterministic_and_keeps_cjk() -> None:
    c = WebhookConnector(session=None)  # type: ignore[arg-type]  # payload does no I/O

    class _Ctx:
        job_id = "job-1"
        account = AccountRef("cms", "webhook", "n", {"base_url": "http://cms"})

    a = c.payload(make_post(), _Ctx())  # type: ignore[arg-type]
    assert a == c.payload(make_post(), _Ctx())  # type: ignore[arg-type]
    assert "新园区启用".encode() in a


async def test_ping(server: TestServer, session: Any, refused_port: int) -> None:
    assert await connector(session, base_url=str(server.make_url(""))).ping() is True
    assert await connector(session, base_url=f"http://127.0.0.1:{refused_port}").ping() is False


async def test_conformance_kit(server: TestServer, session: Any) -> None:
    from connectors.testing import assert_conformant

    await assert_conformant(
        WebhookConnector,
        section={"base_url": str(server.make_url("")), "timeout_s": 2.0},
        session=session,
        account=account(server),
        post=make_post(),
        credentials=CREDS,
        bad_credentials={"secret": "some-other-secret"},
    )


async def test_asynchronous_cms_is_pending_then_published(
    aiohttp_server: Any, session: Any, redis: Any
) -> None:
    server = await aiohttp_server(make_app(secret=SECRET, pending_polls=2))
    ctx = await new_ctx(redis, server)
    c = connector(session)
    first = await c.publish(make_post(), ctx)
    assert isinstance(first, Pending)
    assert isinstance(await c.status(await resume(redis, ctx)), Pending)
    done = await c.status(await resume(redis, ctx))
    assert isinstance(done, Published) and done.platform_id == first.platform_id
    assert len(live(server)) == 1


@pytest.mark.parametrize(
    "fault",
    [{"status": 503}, {"status": 504}, {"hang": True}, {"drop_after_apply": True}],
    ids=["503", "504", "hang", "drop"],
)
async def test_fault_matrix_creates_exactly_once(
    server: TestServer, session: Any, redis: Any, fault: dict[str, Any]
) -> None:
    server.app[faults.FAULTS_KEY].add(path="/posts", times=1, **fault)
    ctx = await new_ctx(redis, server)
    c = connector(session, timeout_s=0.4)
    result = await drive(c, make_post(), lambda: resume(redis, ctx), wait_s=0.05, max_rounds=30)
    assert isinstance(result, Published)
    assert len(live(server)) == 1 and server.app[STATE_KEY].counters["created"] == 1
