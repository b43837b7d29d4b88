"""Bypass-detection listings (``connectors.base.Lister``) of Weibo, WordPress and the webhook CMS.

Table-driven over :data:`PLATFORMS`: each row is a connector against its loopback emulator, with
checkpoints in the real Redis. What a person does on the platform itself goes through the
emulators' console calls (``/_emulator/console/{publish,edit,delete}``). Covered per platform:
an item the gateway published is listed and fetched with the fingerprint of ``expected(post)``
(Chinese content with entities, full-width spaces, HTML, an image, emoji and a decomposed
accent); console publish, edit and delete; paging beyond one page; ``since``; and faults (5xx,
hang, a failing second page, revoked credentials) as ``RetryLater``/``NeedsReauthorisation``,
never an HTTP error and never a partial list. Platform specifics follow the table tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.base import (
    AccountRef,
    Image,
    Lister,
    NeedsReauthorisation,
    OutboundPost,
    Published,
    RemoteItem,
    RetryLater,
    fingerprint,
    visible_text,
)
from connectors.emulators import faults
from connectors.emulators import webhook_cms as webhook_emulator
from connectors.emulators import weibo as weibo_emulator
from connectors.emulators import wordpress as wordpress_emulator
from connectors.webhook import WebhookConnector
from connectors.weibo import WeiboConnector, listed_item, listed_text
from connectors.wordpress import WordPressConnector
from tests.connectors.support import RedisPublishContext, emulator_get, emulator_post

WB_TOKEN = "WB-LIST-token-3c8e1f0a9b"
WP_PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"
HOOK_SECRET = "HOOK-LIST-secret-5e2d7a"
SECRETS = (WB_TOKEN, WP_PASSWORD, WP_PASSWORD.replace(" ", ""), HOOK_SECRET)
UID = "1404376560"
WB_LINK = "https://www.example.com/news/42"


@dataclass(frozen=True)
class Platform:
    """One platform as the listing tests drive it."""

    name: str
    make_app: Callable[[], web.Application]
    credentials: dict[str, str]
    settings: Callable[[TestServer], dict[str, Any]]
    build: Callable[[dict[str, Any], aiohttp.ClientSession], Any]
    list_path: str
    fetch_path: Callable[[str], str]
    list_calls: Callable[[TestServer], int]
    age: Callable[[TestServer, str, float], None]
    # fingerprint of what a console publish/edit of (title, content) shows
    console_fingerprint: Callable[[str, str], str]

    def account(self, server: TestServer) -> AccountRef:
        return AccountRef(f"{self.name}-acct", self.name, "官方账号", self.settings(server))

    def connector(
        self, server: TestServer, session: aiohttp.ClientSession, timeout_s: float = 3.0
    ) -> Any:
        section = {"timeout_s": timeout_s}
        if self.name == "weibo":
            section["base_url"] = str(server.make_url("")).rstrip("/")
        return self.build(section, session)


def _weibo_age(server: TestServer, platform_id: str, seconds: float) -> None:
    for status in server.app[weibo_emulator.STATE_KEY].statuses:
        if str(status.id) == platform_id:
            status.created_at -= seconds


def _wp_age(server: TestServer, platform_id: str, seconds: float) -> None:
    post = server.app[wordpress_emulator.STATE_KEY].posts[int(platform_id)]
    for key in ("date", "modified"):
        moment = datetime.strptime(post[key], "%Y-%m-%dT%H:%M:%S").timestamp() - seconds
        post[key] = datetime.fromtimestamp(moment).strftime("%Y-%m-%dT%H:%M:%S")


def _hook_age(server: TestServer, platform_id: str, seconds: float) -> None:
    article = server.app[webhook_emulator.STATE_KEY].articles[platform_id]
    article.created_at -= seconds
    article.updated_at -= seconds


def _titled_fingerprint(title: str, content: str) -> str:
    return fingerprint(visible_text(title), visible_text(content))


def _weibo_fingerprint(title: str, content: str) -> str:
    return fingerprint(*listed_item((f"【{title}】" if title.strip() else "") + content))


PLATFORMS = [
    Platform(
        name="weibo",
        make_app=lambda: weibo_emulator.make_app(
            tokens={WB_TOKEN: UID}, safe_domains=("example.com",), shorten_links=True
        ),
        credentials={"access_token": WB_TOKEN},
        settings=lambda server: {"link": WB_LINK, "rip": "211.156.0.1"},
        build=lambda section, session: WeiboConnector.from_config(section, session=session),
        list_path="/2/statuses/user_timeline.json",
        fetch_path=lambda pid: "/2/statuses/show.json",
        list_calls=lambda s: s.app[weibo_emulator.STATE_KEY].counters["user_timeline"],
        age=_weibo_age,
        console_fingerprint=_weibo_fingerprint,
    ),
    Platform(
        name="wordpress",
        # a site in Asia/Shanghai: date/modified are local, *_gmt are GMT
        make_app=lambda: wordpress_emulator.make_app(
            users={"editor": [WP_PASSWORD]}, utc_offset_h=8
        ),
        credentials={"username": "editor", "app_password": WP_PASSWORD},
        settings=lambda server: {"base_url": str(server.make_url("")).rstrip("/")},
        build=lambda section, session: WordPressConnector.from_config(section, session=session),
        list_path="/wp-json/wp/v2/posts",
        fetch_path=lambda pid: f"/wp-json/wp/v2/posts/{pid}",
        list_calls=lambda s: s.app[wordpress_emulator.STATE_KEY].counters["posts.list"],
        age=_wp_age,
        console_fingerprint=_titled_fingerprint,
    ),
    Platform(
        name="webhook",
        make_app=lambda: webhook_emulator.make_app(secret=HOOK_SECRET),
        credentials={"secret": HOOK_SECRET},
        settings=lambda server: {"base_url": str(server.make_url("")).rstrip("/")},
        build=lambda section, session: WebhookConnector.from_config(section, session=session),
        list_path="/posts",
        fetch_path=lambda pid: f"/posts/{pid}",
        list_calls=lambda s: s.app[webhook_emulator.STATE_KEY].counters["list"],
        age=_hook_age,
        console_fingerprint=_titled_fingerprint,
    ),
]
BY_NAME = {p.name: p for p in PLATFORMS}
platforms = pytest.mark.parametrize("platform", PLATFORMS, ids=[p.name for p in PLATFORMS])

JPEG = b"\xff\xd8\xff\xe0" + b"listing-image" * 8


def make_post(title: str, content: str, images: tuple[bytes, ...] = ()) -> OutboundPost:
    return OutboundPost(
        title=title,
        digest="",  # Weibo then composes from the content, the harder case
        author="品牌部",
        content=content,
        source="本公司",
        category="company",
        content_sha256=hashlib.sha256(content.encode()).hexdigest(),
        images=tuple(
            Image(f"图{i}.jpg", "image/jpeg", data, hashlib.sha256(data).hexdigest())
            for i, data in enumerate(images)
        ),
    )


# Chinese content a reader sees one way and the markup spells another (adversarial on purpose)
POSTS = {
    "entities": make_post(
        "新品&amp;发布",
        "<p>第一段&amp;第二段 &lt;注意&gt; &#x4E2D;&#25991;</p><p>&nbsp;结束&quot;引号&quot;</p>",
    ),
    "full-width spaces": make_post(
        "\u3000全角\u3000空格标题\u3000",
        "<p>\u3000\u3000段首全角空格，中间\u3000空格。</p>\n\n<p>第二段\u3000\u3000</p>",
    ),
    "html": make_post(
        "结构化内容",
        "<h2>小标题</h2><ul><li>一</li><li>二</li></ul>"
        '<p>含<strong>加粗</strong>和<a href="https://www.example.com/x">链接</a></p>'
        "<!-- 编辑备注 --><script>alert('脚本')</script><style>p{color:red}</style>",
    ),
    "image, emoji, decomposed accent": make_post(
        "发布会🎉",
        '<p>发布会🎉现场 cafe\u0301</p><p><img src="image:0" alt="现场图">图片说明</p>',
        images=(JPEG,),
    ),
}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def server(aiohttp_server: Any, request: pytest.FixtureRequest) -> TestServer:
    platform: Platform = request.getfixturevalue("platform")
    return await aiohttp_server(platform.make_app())


async def new_ctx(redis: aredis.Redis, platform: Platform, server: TestServer) -> Any:
    return await RedisPublishContext.create(
        redis, account=platform.account(server), credentials=platform.credentials
    )


def expected_fp(platform: Platform, conn: Any, post: OutboundPost, server: TestServer) -> str:
    """As the reconciler asks: ``expected(post)``, no account."""
    return fingerprint(*conn.expected(post))


async def console(server: TestServer, action: str, body: dict[str, Any]) -> Any:
    return await emulator_post(server, f"/_emulator/console/{action}", body)


def by_id(items: list[RemoteItem]) -> dict[str, RemoteItem]:
    return {item.platform_id: item for item in items}


# -- table tests ---------------------------------------------------------------------------


@platforms
def test_connectors_are_listers(platform: Platform) -> None:
    conn = platform.build({}, None)  # no I/O
    assert isinstance(conn, Lister)


@platforms
@pytest.mark.parametrize("case", list(POSTS), ids=list(POSTS))
async def test_gateway_publish_is_listed_with_the_expected_fingerprint(
    platform: Platform, case: str, server: TestServer, session: Any, redis: Any
) -> None:
    post = POSTS[case]
    conn = platform.connector(server, session)
    since = time.time() - 1
    result = await conn.publish(post, await new_ctx(redis, platform, server))
    assert isinstance(result, Published)
    ctx = await new_ctx(redis, platform, server)
    listed = by_id(await conn.recent(ctx, since=since, limit=20))
    assert list(listed) == [result.platform_id]
    item = listed[result.platform_id]
    want = expected_fp(platform, conn, post, server)
    assert item.fingerprint == want, (item, conn.expected(post))
    assert item.updated_at >= since - 1 and item.published_at >= since - 1
    fetched = await conn.fetch(ctx, result.platform_id)
    assert fetched is not None and fetched.fingerprint == want
    # the markup never leaks into what is compared
    for text in (item.title, item.text):
        assert "<" not in text.replace("<注意>", "") and "&amp;" not in text
        assert "mediagate:job" not in text and "alert(" not in text and "\u3000" not in text


@platforms
async def test_console_publish_edit_and_delete(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    conn = platform.connector(server, session)
    since = time.time() - 1
    mine = await conn.publish(POSTS["html"], await new_ctx(redis, platform, server))
    ctx = await new_ctx(redis, platform, server)

    # someone publishes on the platform itself
    outside = await console(
        server, "publish", {"title": "未经审批", "content": "<p>绕过网关&amp;直接发布</p>"}
    )
    listed = by_id(await conn.recent(ctx, since=since, limit=20))
    assert set(listed) == {mine.platform_id, outside["platform_id"]}
    assert listed[outside["platform_id"]].fingerprint == platform.console_fingerprint(
        "未经审批", "<p>绕过网关&amp;直接发布</p>"
    )
    assert listed[mine.platform_id].fingerprint == expected_fp(
        platform, conn, POSTS["html"], server
    )
    assert outside["url"]

    # someone edits the gateway's item
    await console(
        server,
        "edit",
        {"platform_id": mine.platform_id, "title": "结构化内容", "content": "<p>被改过的正文</p>"},
    )
    edited = await conn.fetch(ctx, mine.platform_id)
    assert edited is not None
    assert edited.fingerprint != expected_fp(platform, conn, POSTS["html"], server)
    assert edited.fingerprint == platform.console_fingerprint("结构化内容", "<p>被改过的正文</p>")
    assert edited.updated_at >= since - 1
    if platform.name != "weibo":  # Weibo lists by creation time: edits are found by fetch
        relisted = by_id(await conn.recent(ctx, since=time.time() - 1, limit=20))
        assert relisted[mine.platform_id].fingerprint == edited.fingerprint

    # someone deletes both
    for platform_id in (mine.platform_id, outside["platform_id"]):
        await console(server, "delete", {"platform_id": platform_id})
        assert await conn.fetch(ctx, platform_id) is None
    assert await conn.recent(ctx, since=since, limit=20) == []


@platforms
async def test_console_calls_refuse_bad_bodies(platform: Platform, server: TestServer) -> None:
    cases = [
        ("publish", {}, 400),
        ("publish", {"content": 5}, 400),
        ("publish", {"content": "x", "title": ["t"]}, 400),
        ("edit", {"content": "x"}, 400),
        ("edit", {"platform_id": "999999999", "content": "x"}, 404),
        ("delete", {"platform_id": "999999999"}, 404),
    ]
    async with aiohttp.ClientSession() as s:
        for action, body, status in cases:
            url = server.make_url(f"/_emulator/console/{action}")
            async with s.post(url, json=body) as resp:
                assert resp.status == status, (action, body, await resp.text())
        async with s.post(server.make_url("/_emulator/console/publish"), data=b"{") as resp:
            assert resp.status == 400


@platforms
async def test_paging_beyond_one_page(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    since = time.time() - 1
    ids = [
        (await console(server, "publish", {"title": f"第{n}篇", "content": f"<p>正文{n}</p>"}))[
            "platform_id"
        ]
        for n in range(130)
    ]
    newest_first = list(reversed(ids))
    everything = await conn.recent(ctx, since=since, limit=500)
    assert [i.platform_id for i in everything] == newest_first
    assert platform.list_calls(server) == 2  # 100 + 30
    capped = await conn.recent(ctx, since=since, limit=120)
    assert [i.platform_id for i in capped] == newest_first[:120]
    few = await conn.recent(ctx, since=since, limit=5)
    assert [i.platform_id for i in few] == newest_first[:5]


@platforms
async def test_since_leaves_older_items_out(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    old = await console(server, "publish", {"title": "旧文", "content": "<p>一小时前</p>"})
    platform.age(server, old["platform_id"], 3600)
    new = await console(server, "publish", {"title": "新文", "content": "<p>刚刚</p>"})
    listed = await conn.recent(ctx, since=time.time() - 60, limit=20)
    assert [i.platform_id for i in listed] == [new["platform_id"]]
    both = await conn.recent(ctx, since=time.time() - 7200, limit=20)
    assert [i.platform_id for i in both] == [new["platform_id"], old["platform_id"]]


FAULTS = [
    ("list answers 503", "list", {"status": 503}, 0),
    ("list answers 429", "list", {"status": 429}, 0),
    ("list hangs", "list", {"hang": True}, 0),
    ("second page answers 502", "list", {"status": 502, "skip": 1}, 130),
    ("second page hangs", "list", {"hang": True, "skip": 1}, 130),
    ("fetch answers 500", "fetch", {"status": 500}, 0),
    ("fetch hangs", "fetch", {"hang": True}, 0),
]


@platforms
@pytest.mark.parametrize(("what", "call", "fault", "extra"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_faults_are_retry_later_never_a_partial_list(
    platform: Platform,
    what: str,
    call: str,
    fault: dict[str, Any],
    extra: int,
    server: TestServer,
    session: Any,
    redis: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    conn = platform.connector(server, session, timeout_s=0.5)
    ctx = await new_ctx(redis, platform, server)
    since = time.time() - 1
    first = await console(server, "publish", {"title": "标题", "content": "<p>正文</p>"})
    for n in range(extra):
        await console(server, "publish", {"title": f"第{n}篇", "content": f"<p>正文{n}</p>"})
    path = platform.list_path if call == "list" else platform.fetch_path(first["platform_id"])
    server.app[faults.FAULTS_KEY].add(path=path, times=1, **fault)
    with pytest.raises(RetryLater) as info:
        if call == "list":
            await conn.recent(ctx, since=since, limit=500)
        else:
            await conn.fetch(ctx, first["platform_id"])
    assert info.value.after_s > 0
    assert server.app[faults.FAULTS_KEY].fired == 1
    assert not any(s in info.value.reason for s in SECRETS)
    assert not any(s in caplog.text for s in SECRETS)
    # the fault is gone: the same call now answers, complete
    if call == "list":
        assert len(await conn.recent(ctx, since=since, limit=500)) == extra + 1
    else:
        assert (await conn.fetch(ctx, first["platform_id"])) is not None


@platforms
async def test_revoked_credentials_need_reauthorisation(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    item = await console(server, "publish", {"title": "标题", "content": "<p>正文</p>"})
    await emulator_post(server, "/_emulator/revoke", {})
    with pytest.raises(NeedsReauthorisation) as listing:
        await conn.recent(ctx, since=time.time() - 60, limit=20)
    with pytest.raises(NeedsReauthorisation) as fetching:
        await conn.fetch(ctx, item["platform_id"])
    for exc in (listing.value, fetching.value):
        assert platform.account(server).id in exc.reason
        assert not any(s in exc.reason for s in SECRETS)


@platforms
async def test_listing_changes_nothing_on_the_platform(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    await conn.publish(POSTS["entities"], await new_ctx(redis, platform, server))
    await console(server, "publish", {"title": "标题", "content": "<p>正文</p>"})
    before = await emulator_get(server, "/_emulator/items")
    listed = await conn.recent(ctx, since=time.time() - 60, limit=20)
    for item in listed:
        await conn.fetch(ctx, item.platform_id)
    assert await emulator_get(server, "/_emulator/items") == before


# -- Weibo -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", [BY_NAME["weibo"]], ids=["weibo"])
async def test_weibo_repost_mode_moves_the_platform_id(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    conn = WeiboConnector.from_config(
        {"base_url": str(server.make_url("")), "update_mode": "repost"}, session=session
    )
    ctx = await new_ctx(redis, platform, server)
    first = await conn.publish(POSTS["entities"], ctx)
    changed = make_post("新品&amp;发布", "<p>更正后的正文</p>")
    second = await conn.update(changed, ctx)
    assert isinstance(second, Published) and second.platform_id != first.platform_id
    assert ctx.state["weibo_id"] == second.platform_id
    assert await conn.fetch(ctx, first.platform_id) is None
    listed = by_id(await conn.recent(ctx, since=time.time() - 60, limit=20))
    assert list(listed) == [second.platform_id]
    assert listed[second.platform_id].fingerprint == expected_fp(platform, conn, changed, server)


@pytest.mark.parametrize("platform", [BY_NAME["weibo"]], ids=["weibo"])
async def test_weibo_expected_is_the_composed_text_without_links(
    platform: Platform, server: TestServer, session: Any
) -> None:
    conn = platform.connector(server, session)
    account = platform.account(server)
    with_digest = dataclasses.replace(make_post("标题", "<p>正文</p>"), digest="摘要\u3000一句话")
    assert conn.expected(with_digest, account) == ("标题", "摘要 一句话")
    long_body = make_post("长文", "<p>" + "很长的正文内容。" * 30 + "</p>")
    title, text = conn.expected(long_body, account)
    assert title == "长文" and text.endswith("…") and "http" not in text
    assert listed_text(conn.compose(long_body, account)) == f"【长文】{text}"
    # the shortened text does not depend on the account's link (up to LINK_ROOM characters)
    assert conn.expected(long_body) == (title, text)
    short_link = AccountRef("a", "weibo", "n", {"link": "https://example.com/a", "rip": "1.1.1.1"})
    assert conn.expected(long_body, short_link) == (title, text)
    long_link = AccountRef(
        "b", "weibo", "n", {"link": "https://www.example.com/" + "x" * 80, "rip": "1.1.1.1"}
    )
    assert len(conn.compose(long_body, long_link)) <= 140
    assert conn.expected(long_body, long_link) != (title, text)


@platforms
async def test_a_long_article_without_digest_fingerprints_as_expected(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    """Weibo shortens it with "…" to fit 140 characters; the others carry it whole."""
    post = make_post(
        "长文", "<p>" + "很长的正文内容，包含全角\u3000空格与&amp;实体。" * 30 + "</p>"
    )
    conn = platform.connector(server, session)
    result = await conn.publish(post, await new_ctx(redis, platform, server))
    fetched = await conn.fetch(await new_ctx(redis, platform, server), result.platform_id)
    assert fetched is not None and fetched.fingerprint == expected_fp(platform, conn, post, server)
    if platform.name == "weibo":
        assert fetched.text.endswith("…")


@pytest.mark.parametrize("platform", [BY_NAME["weibo"]], ids=["weibo"])
async def test_weibo_rate_limit_is_retry_later_until_the_next_window(
    platform: Platform, aiohttp_server: Any, session: Any, redis: Any
) -> None:
    server = await aiohttp_server(weibo_emulator.make_app(tokens={WB_TOKEN: UID}, calls_per_hour=1))
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    assert await conn.recent(ctx, since=time.time() - 60, limit=5) == []
    with pytest.raises(RetryLater) as info:
        await conn.recent(ctx, since=time.time() - 60, limit=5)
    assert "10023" in info.value.reason and info.value.after_s >= 60


@pytest.mark.parametrize("platform", [BY_NAME["weibo"]], ids=["weibo"])
async def test_weibo_deleted_stub_is_gone_and_odd_answers_are_retry_later(
    platform: Platform, aiohttp_server: Any, session: Any, redis: Any
) -> None:
    """Weibo answers some deleted statuses with a stub marked ``deleted``; a 200 that is not a
    status, or a timeline page without ids, is never taken as an answer."""
    answers = {
        "1": {"deleted": "1", "id": 1, "idstr": "1", "text": "此微博已被作者删除。"},
        "2": {"statuses": []},
    }

    async def show(request: web.Request) -> web.Response:
        return web.json_response(answers[request.query["id"]])

    async def timeline(request: web.Request) -> web.Response:
        return web.json_response({"statuses": [{"text": "没有编号"}] * int(request.query["count"])})

    app = web.Application()
    app.router.add_get("/2/statuses/show.json", show)
    app.router.add_get("/2/statuses/user_timeline.json", timeline)
    server = await aiohttp_server(app)
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    assert await conn.fetch(ctx, "1") is None
    with pytest.raises(RetryLater):
        await conn.fetch(ctx, "2")
    with pytest.raises(RetryLater):
        await conn.recent(ctx, since=0, limit=3)


# -- WordPress ---------------------------------------------------------------------------


@pytest.mark.parametrize("platform", [BY_NAME["wordpress"]], ids=["wordpress"])
async def test_wordpress_rendered_content_has_the_same_fingerprint(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    """The raw post is what is compared; ``wpautop``'s paragraphs would not change it either."""
    conn = platform.connector(server, session)
    for post in POSTS.values():
        result = await conn.publish(post, await new_ctx(redis, platform, server))
        url = server.make_url(f"/wp-json/wp/v2/posts/{result.platform_id}")
        async with session.get(url) as resp:
            rendered = await resp.json()
        assert "<!-- mediagate:job=" in rendered["content"]["rendered"]
        assert fingerprint(
            visible_text(rendered["title"]["rendered"]),
            visible_text(rendered["content"]["rendered"]),
        ) == fingerprint(*conn.expected(post))


@pytest.mark.parametrize("platform", [BY_NAME["wordpress"]], ids=["wordpress"])
async def test_wordpress_trash_force_delete_drafts_and_broken_permalinks(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    trashed = await console(server, "publish", {"title": "将被删除", "content": "<p>一</p>"})
    forced = await console(server, "publish", {"title": "彻底删除", "content": "<p>二</p>"})
    await console(server, "delete", {"platform_id": trashed["platform_id"]})
    await console(server, "delete", {"platform_id": forced["platform_id"], "force": True})
    assert await conn.fetch(ctx, trashed["platform_id"]) is None
    assert await conn.fetch(ctx, forced["platform_id"]) is None
    assert await conn.recent(ctx, since=time.time() - 60, limit=20) == []
    # an HTML 404 (rewrite rules off) is a site problem, not "the post is gone"
    await emulator_post(server, "/_emulator/php", {"pretty_permalinks": False})
    with pytest.raises(RetryLater):
        await conn.fetch(ctx, trashed["platform_id"])
    with pytest.raises(RetryLater):
        await conn.recent(ctx, since=time.time() - 60, limit=20)


@pytest.mark.parametrize("platform", [BY_NAME["wordpress"]], ids=["wordpress"])
@pytest.mark.parametrize("offset_h", [8, -5, 0])
async def test_wordpress_modified_after_is_asked_with_an_offset(
    platform: Platform, offset_h: int, aiohttp_server: Any, session: Any, redis: Any
) -> None:
    """WP_Date_Query reads a time without an offset as the site's: on a site west of GMT a
    naive GMT ``modified_after`` would hide the last hours' edits."""
    server = await aiohttp_server(
        wordpress_emulator.make_app(users={"editor": [WP_PASSWORD]}, utc_offset_h=offset_h)
    )
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    old = await console(server, "publish", {"title": "时区", "content": "<p>三小时前</p>"})
    platform.age(server, old["platform_id"], 3 * 3600)
    new = await console(server, "publish", {"title": "时区", "content": "<p>刚刚</p>"})
    listed = await conn.recent(ctx, since=time.time() - 60, limit=5)
    assert [i.platform_id for i in listed] == [new["platform_id"]]
    both = await conn.recent(ctx, since=time.time() - 4 * 3600, limit=5)
    assert [i.platform_id for i in both] == [new["platform_id"], old["platform_id"]]
    assert abs(both[1].updated_at - (time.time() - 3 * 3600)) < 5
    async with session.get(server.make_url(f"/wp-json/wp/v2/posts/{old['platform_id']}")) as resp:
        shown = await resp.json()
    local = datetime.fromisoformat(shown["modified"])
    gmt = datetime.fromisoformat(shown["modified_gmt"])
    assert (local - gmt).total_seconds() == offset_h * 3600


@pytest.mark.parametrize("platform", [BY_NAME["wordpress"]], ids=["wordpress"])
async def test_wordpress_listing_that_shrinks_while_paging_is_retry_later(
    platform: Platform, aiohttp_server: Any, session: Any, redis: Any
) -> None:
    """A post left the listing between two pages: the next page's items moved up by one, so one
    may have been skipped; the listing is not returned as complete."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    async def posts(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        per_page = int(request.query["per_page"])
        total = 150 if page == 1 else 149
        items = [
            {"id": page * 1000 + i, "modified_gmt": now, "date_gmt": now,
             "title": {"raw": "t"}, "content": {"raw": "c"}}
            for i in range(per_page if page == 1 else 49)
        ]  # fmt: skip
        return web.json_response(items, headers={"X-WP-Total": str(total), "X-WP-TotalPages": "2"})

    app = web.Application()
    app.router.add_get("/wp-json/wp/v2/posts", posts)
    server = await aiohttp_server(app)
    conn = platform.connector(server, session)
    with pytest.raises(RetryLater, match="shrank"):
        await conn.recent(await new_ctx(redis, platform, server), since=0, limit=500)


# -- webhook CMS -------------------------------------------------------------------------


@pytest.mark.parametrize("platform", [BY_NAME["webhook"]], ids=["webhook"])
async def test_webhook_listing_is_signed_and_leaves_drafts_out(
    platform: Platform, server: TestServer, session: Any, redis: Any
) -> None:
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    draft_account = AccountRef(
        "hook-drafts", "webhook", "草稿站", {**platform.settings(server), "status": "draft"}
    )
    draft_ctx = await RedisPublishContext.create(
        redis, account=draft_account, credentials=platform.credentials
    )
    draft = await conn.publish(POSTS["html"], draft_ctx)
    live = await conn.publish(POSTS["entities"], await new_ctx(redis, platform, server))
    listed = await conn.recent(ctx, since=time.time() - 60, limit=20)
    assert [i.platform_id for i in listed] == [live.platform_id]
    fetched = await conn.fetch(ctx, draft.platform_id)  # a draft exists: it is not "gone"
    assert fetched is not None and fetched.fingerprint == fingerprint(*conn.expected(POSTS["html"]))
    # an unsigned listing is refused by the CMS
    async with session.get(server.make_url("/posts"), params={"since": "0"}) as resp:
        assert resp.status == 401


@pytest.mark.parametrize("platform", [BY_NAME["webhook"]], ids=["webhook"])
async def test_webhook_cms_without_the_listing_call_is_retry_later(
    platform: Platform, aiohttp_server: Any, session: Any, redis: Any
) -> None:
    """An older CMS answers ``GET /posts`` without ``next_cursor``: not a complete listing."""

    item = {"id": "1", "title": "t", "status": "published", "created_at": 1.0, "updated_at": 2.0}
    answers = {
        "no cursor": {"items": [item]},
        "no times": {"items": [{"id": "1", "title": "t"}], "next_cursor": None},
        "a cursor again": {"items": [item], "next_cursor": "same"},
        "no id": {"items": [{**item, "id": ""}], "next_cursor": None},
    }
    asked = {"case": ""}

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(answers[asked["case"]])

    app = web.Application()
    app.router.add_get("/posts", listing)
    server = await aiohttp_server(app)
    conn = platform.connector(server, session)
    ctx = await new_ctx(redis, platform, server)
    for case, needle in [
        ("no cursor", "listing contract"),
        ("no times", "listing contract"),
        ("a cursor again", "repeated a cursor"),
        ("no id", "without an id"),
    ]:
        asked["case"] = case
        with pytest.raises(RetryLater, match=needle):
            await conn.recent(ctx, since=0, limit=5)
