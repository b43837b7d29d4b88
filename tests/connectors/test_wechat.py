"""WeChatConnector against the real loopback emulator and the real Redis."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestServer

from connectors.base import (
    AccountRef,
    Connector,
    Deleted,
    Image,
    NeedsReauthorisation,
    OutboundPost,
    Pending,
    PermanentFailure,
    Published,
    RetryLater,
)
from connectors.emulators.wechat import STATE_KEY, make_app
from connectors.wechat import WeChatConnector
from tests.connectors.support import (
    RedisPublishContext,
    RedisTokenCache,
    SimulatedCrash,
    emulator_get,
    emulator_post,
)
from tests.connectors.support import drive as drive_job

APP_ID = "wx_test_appid_0001"
APP_SECRET = "s3cr3t-APPSECRET-9f8e7d6c5b4a"
CREDENTIALS = {"app_id": APP_ID, "app_secret": APP_SECRET}
ACCOUNT = AccountRef(id="acct-wechat-1", platform="wechat", name="公司公众号")

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64


def image(name: str, data: bytes, content_type: str) -> Image:
    return Image(name, content_type, data, hashlib.sha256(data).hexdigest())


def make_post(title: str = "公司年度报告发布", **overrides: Any) -> OutboundPost:
    fields: dict[str, Any] = {
        "title": title,
        "digest": "年度报告摘要",
        "author": "品牌部",
        "content": '<p>正文“引号”</p><img src="image:0"><p>中段</p><img src="image:1">',
        "source": "https://example.com/report",
        "category": "news",
        "content_sha256": hashlib.sha256(title.encode()).hexdigest(),
        "cover": image("cover.jpg", JPEG, "image/jpeg"),
        "images": (image("a.jpg", JPEG, "image/jpeg"), image("b.png", PNG, "image/png")),
    }
    fields.update(overrides)
    return OutboundPost(**fields)


def make_connector(
    session: aiohttp.ClientSession, server: TestServer, **section: Any
) -> WeChatConnector:
    config = {
        "base_url": str(server.make_url("")).rstrip("/"),
        "timeout_s": 0.5,
        "poll_interval_s": 0.01,
        "submit_settle_s": 0.3,
    }
    config.update(section)
    return WeChatConnector.from_config(config, session=session)


async def new_ctx(
    redis: aredis.Redis, tokens: RedisTokenCache | None = None, **kw: Any
) -> RedisPublishContext:
    return await RedisPublishContext.create(
        redis, account=ACCOUNT, credentials=CREDENTIALS, tokens=tokens, **kw
    )


async def resume(redis: aredis.Redis, job_id: str, **kw: Any) -> RedisPublishContext:
    return await RedisPublishContext.resume(
        redis, job_id, account=ACCOUNT, credentials=CREDENTIALS, **kw
    )


async def drive(
    connector: WeChatConnector, post: OutboundPost, redis: aredis.Redis, job_id: str, **kw: Any
) -> Published:
    result = await drive_job(connector, post, lambda: resume(redis, job_id), **kw)
    assert isinstance(result, Published)
    return result


async def items(server: TestServer) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await emulator_get(server, "/_emulator/items")
    return result


async def counters(server: TestServer) -> dict[str, Any]:
    result: dict[str, Any] = await emulator_get(server, "/_emulator/counters")
    return result


async def control(server: TestServer, path: str, body: dict[str, Any]) -> Any:
    return await emulator_post(server, path, body)


@pytest.fixture
async def server(aiohttp_server: Any) -> TestServer:
    srv: TestServer = await aiohttp_server(make_app(app_id_secrets={APP_ID: APP_SECRET}))
    return srv


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_is_a_connector(session: aiohttp.ClientSession, server: TestServer) -> None:
    assert isinstance(make_connector(session, server), Connector)
    assert "s3cr3t" not in repr(make_connector(session, server))


async def test_unknown_config_key_is_an_error(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="poll_every"):
        WeChatConnector.from_config({"poll_every": 3}, session=session)


async def test_publish_text_images_cover_and_read_back(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    post = make_post()
    pending = await connector.publish(post, ctx)
    assert isinstance(pending, Pending)
    assert isinstance(ctx.state["publish_id"], str)
    assert int(ctx.state["publish_id"]) > 2**31  # the emulator answers a JSON number
    published = await connector.status(ctx)
    assert isinstance(published, Published)

    [item] = await items(server)
    [article] = item["articles"]
    assert item["article_id"] == published.platform_id
    assert article["title"] == "公司年度报告发布"
    assert article["author"] == "品牌部"
    assert "正文“引号”" in article["content"]
    assert "image:" not in article["content"]
    for url in ctx.state["image_urls"]:
        assert f'src="{url}"' in article["content"]
    assert article["thumb_media_id"] == ctx.state["thumb_media_id"]

    deleted = await connector.delete(ctx)
    assert deleted == Deleted(published.platform_id)
    assert await connector.delete(ctx) == deleted  # idempotent
    [item] = await items(server)
    assert item["deleted"] is True
    assert (await counters(server))["calls"]["freepublish/delete"] == 1


async def test_token_cached_and_reused(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    for n in range(3):
        await drive(connector, make_post(f"标题{n}"), redis, (await new_ctx(redis)).job_id)
    assert (await counters(server))["token_fetches"] == 1
    assert len(await items(server)) == 3


async def test_20_concurrent_publishes_two_instances_one_token_fetch(
    server: TestServer, redis: aredis.Redis, redis_url: str
) -> None:
    other_redis = aredis.Redis.from_url(redis_url)
    async with aiohttp.ClientSession() as s1, aiohttp.ClientSession() as s2:
        instances = [
            (make_connector(s1, server), RedisTokenCache(redis)),
            (make_connector(s2, server), RedisTokenCache(other_redis)),
        ]

        async def one(n: int) -> Published:
            connector, tokens = instances[n % 2]
            ctx = await new_ctx(redis if n % 2 == 0 else other_redis, tokens=tokens)
            result = await connector.publish(make_post(f"并发{n}"), ctx)
            assert isinstance(result, Pending)
            for _ in range(20):
                result = await connector.status(ctx)
                if isinstance(result, Published):
                    return result
                await asyncio.sleep(0.02)
            raise AssertionError("not published")

        results = await asyncio.gather(*(one(n) for n in range(20)))
    await other_redis.aclose()
    assert len({r.platform_id for r in results}) == 20
    assert len(await items(server)) == 20
    stats = await counters(server)
    assert stats["token_fetches"] == 1
    assert stats["calls"]["freepublish/submit"] == 20


async def test_rejected_token_refreshed_once_and_retried_once(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    await drive(connector, make_post("第一篇"), redis, (await new_ctx(redis)).job_id)
    await control(server, "/_emulator/revoke_tokens", {})
    await drive(connector, make_post("第二篇"), redis, (await new_ctx(redis)).job_id)
    stats = await counters(server)
    assert stats["token_fetches"] == 2  # the first, then exactly one refresh
    assert stats["tokens_issued"] == 2
    assert len(await items(server)) == 2


async def test_force_refresh_only_when_stable_token_returns_the_rejected_token(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    await drive(connector, make_post("第一篇"), redis, (await new_ctx(redis)).job_id)
    await control(server, "/_emulator/revoke_tokens", {"keep_stable": True})
    await drive(connector, make_post("第二篇"), redis, (await new_ctx(redis)).job_id)
    stats = await counters(server)
    # first fetch, the normal-mode refetch (same token back), then one force refresh
    assert stats["token_fetches"] == 3
    assert len(await items(server)) == 2
    assert server.app[STATE_KEY].stable[APP_ID].force_calls_today == 1


async def test_token_rejected_twice_is_retry_later_not_a_loop(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    await ctx.tokens.set(f"wechat:{ACCOUNT.id}", "garbage-token", 60)
    await control(server, "/_emulator/revoke_tokens", {})
    # garbage → 40014 → refresh gives a real token → works: one fetch only
    await drive(connector, make_post(), redis, ctx.job_id)
    assert (await counters(server))["token_fetches"] == 1


@pytest.mark.parametrize("step", ["media/uploadimg", "material/add_material", "draft/add"])
@pytest.mark.parametrize(
    "fault",
    [{"status": 502}, {"hang": True}, {"status": 500, "times": 3}, {"drop_after_apply": True}],
    ids=["502", "hang", "500x3", "drop"],
)
async def test_faults_before_submit_retry_and_publish_once(
    session: aiohttp.ClientSession,
    server: TestServer,
    redis: aredis.Redis,
    step: str,
    fault: dict[str, Any],
) -> None:
    connector = make_connector(session, server)
    await control(server, "/_emulator/faults", {"path": step, "times": 1, **fault})
    outcomes: list[Exception] = []
    job = (await new_ctx(redis)).job_id
    result = await drive(connector, make_post(), redis, job, outcomes=outcomes)
    assert outcomes and all(isinstance(o, RetryLater) for o in outcomes)
    assert len(await items(server)) == 1
    calls = (await counters(server))["calls"]
    assert calls["freepublish/submit"] == 1
    # faulted requests are not applied (nor counted), except a drop after apply: then the
    # repeated step leaves an orphan upload or draft, and still one article
    assert calls["draft/add"] == 1 + (step == "draft/add" and "drop_after_apply" in fault)
    assert isinstance(result, Published)


@pytest.mark.parametrize("fault", [{"status": 502}, {"hang": True}])
async def test_fault_on_token_and_poll_steps(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis, fault: dict[str, Any]
) -> None:
    connector = make_connector(session, server)
    for path in ("/cgi-bin/stable_token", "/cgi-bin/freepublish/get"):
        await control(server, "/_emulator/faults", {"path": path, "times": 1, **fault})
    outcomes: list[Exception] = []
    await drive(connector, make_post(), redis, (await new_ctx(redis)).job_id, outcomes=outcomes)
    assert len(outcomes) == 2 and all(isinstance(o, RetryLater) for o in outcomes)
    assert len(await items(server)) == 1


async def test_system_busy_is_retry_later(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    await control(server, "/_emulator/config", {"busy_next": 1})
    outcomes: list[Exception] = []
    await drive(connector, make_post(), redis, (await new_ctx(redis)).job_id, outcomes=outcomes)
    assert [type(o) for o in outcomes] == [RetryLater]
    assert "system busy" in str(outcomes[0])
    assert len(await items(server)) == 1


@pytest.mark.parametrize("fault", [{"status": 502}, {"hang": True}, {"drop_after_apply": True}])
async def test_delete_faults_retry_and_delete_once(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis, fault: dict[str, Any]
) -> None:
    connector = make_connector(session, server)
    job = (await new_ctx(redis)).job_id
    published = await drive(connector, make_post(), redis, job)
    await control(server, "/_emulator/faults", {"path": "freepublish/delete", "times": 1, **fault})
    with pytest.raises(RetryLater):
        await connector.delete(await resume(redis, job))
    assert await connector.delete(await resume(redis, job)) == Deleted(published.platform_id)
    [item] = await items(server)
    assert item["deleted"] is True


@pytest.mark.parametrize("fault", [{"status": 502}, {"hang": True}])
async def test_unknown_submit_outcome_not_applied_is_resubmitted_once_settled(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis, fault: dict[str, Any]
) -> None:
    connector = make_connector(session, server, submit_settle_s=0.3)
    await control(server, "/_emulator/faults", {"path": "freepublish/submit", "times": 1, **fault})
    outcomes: list[Exception] = []
    await drive(connector, make_post(), redis, (await new_ctx(redis)).job_id, outcomes=outcomes)
    assert outcomes[0].__class__.__name__ == "Unconfirmed"
    assert len(await items(server)) == 1
    assert any(isinstance(o, RetryLater) for o in outcomes)  # settled: safe to submit again
    assert (await counters(server))["calls"][
        "freepublish/submit"
    ] == 1  # the faulted one never applied


@pytest.mark.parametrize("publish_delay_s", [0.0, 0.4])
async def test_drop_after_apply_on_submit_reconciles_to_one_article(
    aiohttp_server: Any, session: aiohttp.ClientSession, redis: aredis.Redis, publish_delay_s: float
) -> None:
    server = await aiohttp_server(
        make_app(app_id_secrets={APP_ID: APP_SECRET}, publish_delay_s=publish_delay_s)
    )
    connector = make_connector(session, server, submit_settle_s=5.0)
    await control(
        server,
        "/_emulator/faults",
        {"path": "freepublish/submit", "drop_after_apply": True, "times": 1},
    )
    outcomes: list[Exception] = []
    result = await drive(
        connector, make_post(), redis, (await new_ctx(redis)).job_id, outcomes=outcomes
    )
    assert outcomes and outcomes[0].__class__.__name__ == "Unconfirmed"
    assert result.details.get("reconciled") is True
    assert len(await items(server)) == 1
    assert (await counters(server))["calls"]["freepublish/submit"] == 1


async def test_crash_between_draft_add_and_submit_resumes_without_new_draft(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    ctx = await new_ctx(redis, crash_on="submitting")
    with pytest.raises(SimulatedCrash):
        await connector.publish(make_post(), ctx)
    await drive(connector, make_post(), redis, ctx.job_id)
    calls = (await counters(server))["calls"]
    assert calls["draft/add"] == 1
    assert calls["material/add_material"] == 1
    assert calls["freepublish/submit"] == 1
    assert len(await items(server)) == 1


async def test_crash_after_submit_before_publish_id_checkpoint_reconciles(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server, submit_settle_s=5.0)
    ctx = await new_ctx(redis, crash_on="publish_id")
    with pytest.raises(SimulatedCrash):
        await connector.publish(make_post(), ctx)
    result = await connector.publish(make_post(), await resume(redis, ctx.job_id))
    assert isinstance(result, Published)
    assert (await counters(server))["calls"]["freepublish/submit"] == 1
    assert len(await items(server)) == 1


@pytest.mark.parametrize(("outcome", "words"), [(4, "review"), (3, "no reason"), (2, "origin")])
async def test_final_failure_status_is_permanent(
    aiohttp_server: Any,
    session: aiohttp.ClientSession,
    redis: aredis.Redis,
    outcome: int,
    words: str,
) -> None:
    server = await aiohttp_server(
        make_app(app_id_secrets={APP_ID: APP_SECRET}, publish_outcome=outcome)
    )
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    await connector.publish(make_post(), ctx)
    with pytest.raises(PermanentFailure, match=words):
        await connector.status(ctx)
    assert await items(server) == []


async def test_poll_while_publishing_is_pending_and_backs_off(
    aiohttp_server: Any, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    server = await aiohttp_server(
        make_app(app_id_secrets={APP_ID: APP_SECRET}, publish_delay_s=60.0)
    )
    connector = make_connector(session, server, poll_interval_s=120.0, max_poll_interval_s=400)
    ctx = await new_ctx(redis)
    await connector.publish(make_post(), ctx)
    waits = []
    for _ in range(4):
        result = await connector.status(await resume(redis, ctx.job_id))
        assert isinstance(result, Pending)
        waits.append(result.poll_after_s)
    assert waits == [120.0, 240.0, 400.0, 400.0]
    assert (await counters(server))["calls"]["freepublish/get"] == 4


async def test_daily_quota_on_submit_parks_the_job(
    aiohttp_server: Any, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    server = await aiohttp_server(
        make_app(app_id_secrets={APP_ID: APP_SECRET}, daily_quotas={"freepublish/submit": 0})
    )
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    with pytest.raises(RetryLater, match="daily quota") as info:
        await connector.publish(make_post(), ctx)
    assert info.value.after_s > 0
    assert ctx.state["submitting"] is False  # the platform refused: nothing to reconcile


async def test_ip_not_whitelisted_needs_admin(
    aiohttp_server: Any, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    server = await aiohttp_server(
        make_app(app_id_secrets={APP_ID: APP_SECRET}, ip_whitelist={"10.9.8.7"})
    )
    with pytest.raises(NeedsReauthorisation, match="whitelist"):
        await make_connector(session, server).publish(make_post(), await new_ctx(redis))


async def test_secrets_never_in_errors_or_logs(
    aiohttp_server: Any,
    session: aiohttp.ClientSession,
    redis: aredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = await aiohttp_server(make_app(app_id_secrets={APP_ID: "another-secret"}))
    errors: list[BaseException] = []
    try:
        await make_connector(session, wrong).publish(make_post(), await new_ctx(redis))
    except NeedsReauthorisation as exc:
        errors.append(exc)
    assert errors and "AppSecret is invalid" in str(errors[0])

    good = await aiohttp_server(make_app(app_id_secrets={APP_ID: APP_SECRET}))
    connector = make_connector(session, good)
    await control(good, "/_emulator/faults", {"path": "draft/add", "status": 502, "times": 1})
    await control(good, "/_emulator/faults", {"path": "freepublish/submit", "hang": True})
    ctx = await new_ctx(redis)
    for _ in range(3):
        try:
            await connector.publish(make_post(), await resume(redis, ctx.job_id))
        except Exception as exc:
            errors.append(exc)
    token = await ctx.tokens.get(f"wechat:{ACCOUNT.id}")
    assert token
    assert len(errors) == 4
    texts = [f"{e!s} {e!r} {e.__cause__!r} {e.__context__!r}" for e in errors]
    texts += [r.getMessage() for r in caplog.records if r.name.startswith("connectors")]
    for text in texts:
        assert APP_SECRET not in text
        assert token not in text


async def test_validate_reports_each_limit(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    assert connector.validate(make_post(), ACCOUNT) == []
    post = make_post(
        "标" * 33,
        author="作" * 17,
        digest="摘" * 129,
        cover=None,
        images=(image("x.gif", b"GIF89a", "image/gif"),),
    )
    problems = connector.validate(post, ACCOUNT)
    joined = " ".join(problems)
    for words in ("title", "author", "digest", "cover", "GIF", "image:1"):
        assert words.lower() in joined.lower(), words
    with pytest.raises(PermanentFailure):
        await connector.publish(post, await new_ctx(redis))


async def test_update_publishes_new_version_and_deletes_old(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    first = await drive(connector, make_post(), redis, ctx.job_id)
    ctx = await resume(redis, ctx.job_id)
    pending = await connector.update(make_post("更正后的标题"), ctx)
    assert isinstance(pending, Pending)
    second = await connector.status(await resume(redis, ctx.job_id))
    assert isinstance(second, Published) and second.platform_id != first.platform_id
    by_id = {i["article_id"]: i for i in await items(server)}
    assert by_id[first.platform_id]["deleted"] is True
    assert by_id[second.platform_id]["articles"][0]["title"] == "更正后的标题"
    assert (await resume(redis, ctx.job_id)).state["article_id"] == second.platform_id


async def test_pending_update_is_followed_by_status(
    aiohttp_server: Any, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    server = await aiohttp_server(
        make_app(app_id_secrets={APP_ID: APP_SECRET}, publish_delay_s=0.3)
    )
    connector = make_connector(session, server)
    job = (await new_ctx(redis)).job_id
    first = await drive(connector, make_post(), redis, job)
    updated = make_post("第二版", content_sha256="f" * 64)
    result = await connector.update(updated, await resume(redis, job))
    assert isinstance(result, Pending)
    old_view = await connector.status(await resume(redis, job))
    assert isinstance(old_view, Pending)  # status follows the update, not the old article
    await asyncio.sleep(0.35)
    second = await connector.status(await resume(redis, job))
    assert isinstance(second, Published) and second.platform_id != first.platform_id
    by_id = {i["article_id"]: i for i in await items(server)}
    assert by_id[first.platform_id]["deleted"] is True
    assert len(by_id) == 2
    assert await connector.status(await resume(redis, job)) == Published(
        second.platform_id, second.url
    )


async def test_ping(session: aiohttp.ClientSession, server: TestServer) -> None:
    assert await make_connector(session, server).ping() is True
    dead = WeChatConnectorAt(session, "http://127.0.0.1:9")
    assert await dead.ping() is False


def WeChatConnectorAt(session: aiohttp.ClientSession, base_url: str) -> Any:
    return WeChatConnector.from_config({"base_url": base_url}, session=session)


async def test_wechat_passes_the_conformance_kit(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    from connectors.testing import check_connector

    async def make_context() -> RedisPublishContext:
        return await new_ctx(redis)

    problems = await check_connector(
        WeChatConnector,
        section={"base_url": str(server.make_url("")).rstrip("/"), "poll_interval_s": 0.01},
        session=session,
        account=ACCOUNT,
        post=make_post(),
        make_context=make_context,
        bad_credentials={"app_id": APP_ID, "app_secret": "wrong-secret-value"},
        secrets=[APP_SECRET],
    )
    assert problems == []
