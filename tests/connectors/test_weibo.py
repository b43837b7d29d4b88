"""WeiboConnector against the loopback Weibo emulator, with checkpoints in the real Redis."""

from __future__ import annotations

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
    Image,
    NeedsReauthorisation,
    OutboundPost,
    PermanentFailure,
    Published,
    RetryLater,
    Unconfirmed,
)
from connectors.emulators import faults
from connectors.emulators.weibo import STATE_KEY, make_app, weibo_length
from connectors.weibo import WeiboConnector, html_to_text
from tests.connectors.support import RedisPublishContext, SimulatedCrash, drive

SECRET = "WB-SECRET-token-7f3c9a1e5d"  # recognisable: must never show up in messages or logs
UID = "1404376560"
ACCOUNT = AccountRef(
    id="wb-main",
    platform="weibo",
    name="官方微博",
    settings={
        "link": "https://www.example.com/news/42",
        "rip": "211.156.0.1",
        "safe_domains": ["example.com"],
    },
)


def _image(name: str, data: bytes) -> Image:
    return Image(name, "image/jpeg", data, hashlib.sha256(data).hexdigest())


COVER = _image("cover.jpg", b"\xff\xd8cover-bytes")


def make_post(
    title: str = "新品发布", digest: str = "我们今天发布了新一代产品，欢迎了解。", **kw: Any
) -> OutboundPost:
    fields: dict[str, Any] = {
        "title": title,
        "digest": digest,
        "author": "品牌部",
        "content": '<p>正文第一段。</p><p><img src="image:0">第二段&amp;结束</p>',
        "source": "本公司",
        "category": "company",
        "content_sha256": "0" * 64,
        "cover": COVER,
        "images": (_image("in.jpg", b"\xff\xd8inline"),),
    }
    fields.update(kw)
    return OutboundPost(**fields)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def server(aiohttp_server: Any) -> TestServer:
    return await aiohttp_server(make_app(tokens={SECRET: UID}, safe_domains=("example.com",)))


def connector(server: TestServer, session: aiohttp.ClientSession, **kw: Any) -> WeiboConnector:
    section = {"base_url": str(server.make_url("")), "timeout_s": 2.0, **kw}
    return WeiboConnector.from_config(section, session=session)


async def new_ctx(redis: aredis.Redis, **kw: Any) -> RedisPublishContext:
    return await RedisPublishContext.create(
        redis, account=kw.pop("account", ACCOUNT), credentials={"access_token": SECRET}, **kw
    )


async def resume(redis: aredis.Redis, ctx: RedisPublishContext) -> RedisPublishContext:
    return await RedisPublishContext.resume(
        redis, ctx.job_id, account=ctx.account, credentials={"access_token": SECRET}
    )


def created(server: TestServer) -> list[Any]:
    return [s for s in server.app[STATE_KEY].statuses if not s.deleted]


async def test_publish_end_to_end_reads_back(server: TestServer, session: Any, redis: Any) -> None:
    ctx = await new_ctx(redis)
    result = await connector(server, session).publish(make_post(), ctx)
    assert isinstance(result, Published)
    async with session.get(server.make_url("/_emulator/items")) as resp:
        items = await resp.json()
    assert len(items) == 1
    item = items[0]
    assert item["idstr"] == result.platform_id and item["id"] > 2**53
    assert (
        item["text"]
        == "【新品发布】我们今天发布了新一代产品，欢迎了解。 https://www.example.com/news/42"
    )
    assert item["rip"] == "211.156.0.1"
    assert item["pic_sha256"] == COVER.sha256
    assert result.url == f"https://weibo.com/{UID}/{result.platform_id}"
    assert ctx.state["weibo_id"] == result.platform_id
    # a repeated publish of the finished job answers from the checkpoint
    again = await connector(server, session).publish(make_post(), await resume(redis, ctx))
    assert again.platform_id == result.platform_id and len(created(server)) == 1


async def test_without_digest_the_article_text_is_shortened(
    server: TestServer, session: Any, redis: Any
) -> None:
    long_text = "<p>" + "这是一段很长的正文。" * 40 + "</p>"
    post = make_post(digest="", content=long_text)
    c = connector(server, session)
    assert c.validate(post, ACCOUNT) == []
    text = c.compose(post, ACCOUNT)
    assert len(text) <= 140 and "…" in text and text.endswith("https://www.example.com/news/42")
    await c.publish(post, await new_ctx(redis))
    assert len(created(server)) == 1


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"rip": "1.2.3.4"}, "no 'link' setting"),
        (
            {"link": "https://evil.test/x", "rip": "1.2.3.4", "safe_domains": ["example.com"]},
            "safe domain",
        ),
        ({"link": "ftp://example.com/x", "rip": "1.2.3.4"}, "not an http(s) URL"),
        ({"link": "https://example.com/x"}, "'rip'"),
    ],
)
def test_validate_account_settings(settings: dict[str, Any], needle: str) -> None:
    c = WeiboConnector(session=None)  # type: ignore[arg-type]  # validate does no I/O
    account = AccountRef("a", "weibo", "n", settings)
    assert any(needle in p for p in c.validate(make_post(), account))


def test_validate_length_and_topics() -> None:
    c = WeiboConnector(session=None)  # type: ignore[arg-type]
    problems = c.validate(make_post(digest="很长" * 80), ACCOUNT)
    assert any("limit is 140" in p for p in problems)
    problems = c.validate(make_post(digest="参与#新品话题#讨论"), ACCOUNT)
    assert any("#topic#" in p for p in problems)


async def test_emulator_enforces_safe_domain(server: TestServer, session: Any, redis: Any) -> None:
    account = AccountRef("wb", "weibo", "n", {"link": "https://other.test/a", "rip": "1.1.1.1"})
    with pytest.raises(PermanentFailure, match="10017"):
        await connector(server, session).publish(make_post(), await new_ctx(redis, account=account))
    assert created(server) == []


async def test_5xx_is_retry_later_then_publishes_once(
    server: TestServer, session: Any, redis: Any
) -> None:
    server.app[faults.FAULTS_KEY].add(path="/2/statuses/share.json", status=503, times=1)
    ctx = await new_ctx(redis)
    with pytest.raises(RetryLater):
        await connector(server, session).publish(make_post(), ctx)
    assert created(server) == []
    result = await connector(server, session).publish(make_post(), await resume(redis, ctx))
    assert isinstance(result, Published) and len(created(server)) == 1


async def test_dropped_after_apply_is_reconciled_not_repeated(
    server: TestServer, session: Any, redis: Any
) -> None:
    server.app[faults.FAULTS_KEY].add(path="/2/statuses/share.json", drop_after_apply=True, times=1)
    ctx = await new_ctx(redis)
    result = await connector(server, session).publish(make_post(), ctx)
    assert result.details["how"].startswith("reconciled")
    assert [s.idstr if hasattr(s, "idstr") else str(s.id) for s in created(server)] == [
        result.platform_id
    ]
    assert server.app[STATE_KEY].counters["share"] == 1


async def test_hang_is_unconfirmed_then_resent_once_after_grace(
    server: TestServer, session: Any, redis: Any
) -> None:
    server.app[faults.FAULTS_KEY].add(path="/2/statuses/share.json", hang=True, times=1)
    ctx = await new_ctx(redis)
    with pytest.raises(Unconfirmed) as info:
        await connector(server, session, timeout_s=0.5).publish(make_post(), ctx)
    assert info.value.step == "share" and created(server) == []
    # resumed within the grace period: still unconfirmed, nothing sent
    with pytest.raises(Unconfirmed, match="not resending"):
        await connector(server, session).publish(make_post(), await resume(redis, ctx))
    result = await connector(server, session, resend_grace_s=0).publish(
        make_post(), await resume(redis, ctx)
    )
    assert isinstance(result, Published) and len(created(server)) == 1


async def test_crash_after_share_resumes_without_second_post(
    server: TestServer, session: Any, redis: Any
) -> None:
    ctx = await new_ctx(redis, crash_on="weibo_id")
    with pytest.raises(SimulatedCrash):
        await connector(server, session).publish(make_post(), ctx)
    resumed = await resume(redis, ctx)
    result = await connector(server, session, resend_grace_s=0).publish(make_post(), resumed)
    assert len(created(server)) == 1 and result.platform_id == str(created(server)[0].id)
    assert server.app[STATE_KEY].counters["share"] == 1


async def test_duplicate_20019_after_timeout_is_reconciled(
    server: TestServer, session: Any, redis: Any
) -> None:
    state = server.app[STATE_KEY]
    state.timeline_hidden = True  # Weibo's lag: the status exists but is not listed yet
    server.app[faults.FAULTS_KEY].add(path="/2/statuses/share.json", drop_after_apply=True, times=1)
    ctx = await new_ctx(redis)
    with pytest.raises(Unconfirmed):
        await connector(server, session).publish(make_post(), ctx)
    assert len(state.statuses) == 1
    with pytest.raises(Unconfirmed, match="20019"):
        await connector(server, session, resend_grace_s=0).publish(
            make_post(), await resume(redis, ctx)
        )
    assert len(state.statuses) == 1 and state.counters["share"] == 2
    # Weibo has said the text exists: it is never sent again, however old the intent
    c = connector(server, session, resend_grace_s=0)
    with pytest.raises(Unconfirmed, match="never sent again"):
        await c.publish(make_post(), await resume(redis, ctx))
    with pytest.raises(Unconfirmed):
        await c.status(await resume(redis, ctx))
    assert state.counters["share"] == 2
    async with session.post(server.make_url("/_emulator/timeline"), json={"hidden": False}):
        pass
    result = await connector(server, session).status(await resume(redis, ctx))
    assert isinstance(result, Published) and result.platform_id == str(state.statuses[0].id)
    assert len(state.statuses) == 1


async def test_20032_slow_success_is_not_repeated(
    server: TestServer, session: Any, redis: Any
) -> None:
    async with session.post(server.make_url("/_emulator/errors"), json={"code": 20032}):
        pass
    result = await connector(server, session).publish(make_post(), await new_ctx(redis))
    assert isinstance(result, Published) and len(created(server)) == 1


async def test_revoked_token_needs_reauthorisation(
    server: TestServer, session: Any, redis: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.post(server.make_url("/_emulator/revoke"), json={}):
        pass
    ctx = await new_ctx(redis)
    with pytest.raises(NeedsReauthorisation) as info:
        await connector(server, session).publish(make_post(), ctx)
    assert "21317" in info.value.reason and SECRET not in str(info.value)
    assert SECRET not in caplog.text and created(server) == []
    assert ctx.state["weibo_sharing"] is None


async def test_expired_token_21327(server: TestServer, session: Any, redis: Any) -> None:
    async with session.post(
        server.make_url("/_emulator/tokens"), json={"token": "old", "expires_in_s": -1}
    ):
        pass
    ctx = await RedisPublishContext.create(
        redis, account=ACCOUNT, credentials={"access_token": "old"}
    )
    with pytest.raises(NeedsReauthorisation, match="21327"):
        await connector(server, session).publish(make_post(), ctx)


async def test_rate_limit_backs_off_to_next_window(
    aiohttp_server: Any, session: Any, redis: Any
) -> None:
    server = await aiohttp_server(make_app(tokens={SECRET: UID}, posts_per_hour=1))
    await connector(server, session).publish(make_post(), await new_ctx(redis))
    with pytest.raises(RetryLater, match="10024") as info:
        await connector(server, session).publish(make_post(digest="第二条"), await new_ctx(redis))
    assert info.value.after_s >= 60
    assert len(created(server)) == 1


async def test_status_delete_and_update(server: TestServer, session: Any, redis: Any) -> None:
    ctx = await new_ctx(redis)
    c = connector(server, session)
    published = await c.publish(make_post(), ctx)
    assert (await c.status(ctx)).platform_id == published.platform_id
    with pytest.raises(PermanentFailure, match="cannot edit"):
        await c.update(make_post(digest="改过的摘要"), ctx)
    reposted = await connector(server, session, update_mode="repost").update(
        make_post(digest="改过的摘要"), ctx
    )
    assert reposted.platform_id != published.platform_id
    assert [s.text.split(" ")[0] for s in created(server)] == ["【新品发布】改过的摘要"]
    deleted = await c.delete(ctx)
    assert deleted.platform_id == reposted.platform_id and created(server) == []
    assert (await c.delete(await resume(redis, ctx))).platform_id == reposted.platform_id
    with pytest.raises(PermanentFailure):
        await c.status(ctx)


async def test_secret_never_in_messages_or_logs(
    server: TestServer, session: Any, redis: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    fl = server.app[faults.FAULTS_KEY]
    fl.add(path="/2/statuses/share.json", drop_after_apply=True, times=1)
    fl.add(path="/2/statuses/user_timeline.json", status=500, times=1)
    with pytest.raises(Unconfirmed) as info:
        await connector(server, session).publish(make_post(), await new_ctx(redis))
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert SECRET not in caplog.text


async def test_ping(server: TestServer, session: Any, refused_port: int) -> None:
    assert await connector(server, session).ping() is True
    dead = WeiboConnector(session=session, base_url=f"http://127.0.0.1:{refused_port}", timeout_s=1)
    assert await dead.ping() is False


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>第一段</p><p>第二段</p>", "第一段\n第二段"),
        ("中文<b>加粗</b>不加空格", "中文加粗不加空格"),
        ("A&amp;B&nbsp;&lt;c&gt;", "A&B\xa0<c>"),
        ("<script>x()</script>正文<br>下一行", "正文\n下一行"),
        ("全角\u3000空格", "全角 空格"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(("text", "length"), [("微博", 2), ("ab", 1), ("abc", 2), ("中a", 2)])
def test_emulator_counts_like_weibo(text: str, length: int) -> None:
    assert weibo_length(text) == length


async def test_conformance_kit(server: TestServer, session: Any) -> None:
    from connectors.testing import assert_conformant

    await assert_conformant(
        WeiboConnector,
        section={"base_url": str(server.make_url("")), "timeout_s": 2.0},
        session=session,
        account=ACCOUNT,
        post=make_post(),
        credentials={"access_token": SECRET},
        bad_credentials={"access_token": "not-a-weibo-token"},
    )


async def test_504_from_a_proxy_is_reconciled_not_retried(
    server: TestServer, session: Any, redis: Any
) -> None:
    server.app[faults.FAULTS_KEY].add(path="/2/statuses/share.json", status=504, times=1)
    ctx = await new_ctx(redis)
    with pytest.raises(Unconfirmed, match="proxy"):
        await connector(server, session).publish(make_post(), ctx)
    assert created(server) == [] and ctx.state["weibo_sharing"]
    result = await connector(server, session, resend_grace_s=0).publish(
        make_post(), await resume(redis, ctx)
    )
    assert isinstance(result, Published) and len(created(server)) == 1


@pytest.mark.parametrize(
    "fault",
    [{"status": 503}, {"status": 504}, {"hang": True}, {"drop_after_apply": True}],
    ids=["503", "504", "hang", "drop"],
)
@pytest.mark.parametrize("timeline_down", [False, True], ids=["timeline-up", "timeline-503"])
async def test_fault_matrix_shares_exactly_once(
    server: TestServer, session: Any, redis: Any, fault: dict[str, Any], timeline_down: bool
) -> None:
    """Driven like the pipeline (RetryLater → publish, Unconfirmed → status), every fault on the
    share (and a timeline that fails once while reconciling) ends with exactly one status."""
    fl = server.app[faults.FAULTS_KEY]
    fl.add(path="/2/statuses/share.json", times=1, **fault)
    if timeline_down:
        fl.add(path="/2/statuses/user_timeline.json", status=503, times=1)
    ctx = await new_ctx(redis)
    c = connector(server, session, timeout_s=0.4, resend_grace_s=0.5)
    outcomes: list[Exception] = []
    result = await drive(
        c, make_post(), lambda: resume(redis, ctx), outcomes=outcomes, wait_s=0.05, max_rounds=60
    )
    assert isinstance(result, Published)
    assert len(created(server)) == 1 and server.app[STATE_KEY].counters["created"] == 1
