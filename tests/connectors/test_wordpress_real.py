"""Against a real WordPress (Debian's packages): publish, edit and delete through the gateway.

The site (:mod:`tests.connectors.wordpress_site`) runs its own MariaDB and Apache in a temporary
folder for this module; what the gateway did is read back from the site's database. Without the
packages the module is skipped, saying what is missing; with ``MEDIAGATE_REQUIRE_SYSTEM_TESTS=1``
(as ``.ci/run`` sets) it fails instead.

Covered: the publish path with Chinese text, in-article images and a cover (attached to the post,
``wp-image-<id>`` so WordPress adds ``srcset``, no empty paragraph from the job marker, identical
images uploaded once per account), edit and delete; both ways a real site made duplicates (a PHP
notice before the JSON of a 201, and a create that outlives ``reconcile_grace_s``); credentials
that do not log in; the media refusals; an edit of a post trashed on the site; ``ping()``; and
that the emulator answers like this site does.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import struct
import time
import zlib
from collections.abc import AsyncIterator, Iterator
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
    fingerprint,
    visible_text,
)
from connectors.emulators.wordpress import make_app as make_emulator
from connectors.wordpress import WordPressConnector, marker
from gateway.app import create_app
from gateway.appkeys import WORKER
from gateway.runtime import Runtime
from gateway.settings import Settings, load_settings
from tests.connectors.support import RedisPublishContext
from tests.connectors.wordpress_site import ADMIN_USER, PACKAGES, WordPressSite, missing
from tests.delivery.conftest import Api, create_callers, runtime  # noqa: F401 - fixture
from tests.gateway.conftest import screener  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

ACCOUNT = "east-site"


@pytest.fixture(scope="module")
def site() -> Iterator[WordPressSite]:
    gone = missing()
    if gone:
        reason = (
            f"real WordPress not available ({', '.join(gone)} missing); to run it: apt-get "
            f"install --no-install-recommends {' '.join(PACKAGES)}"
        )
        if os.environ.get("MEDIAGATE_REQUIRE_SYSTEM_TESTS") == "1":
            pytest.fail(f"MEDIAGATE_REQUIRE_SYSTEM_TESTS=1 but {reason}")
        pytest.skip(reason)
    running = WordPressSite().start()
    try:
        yield running
    finally:
        running.stop()


def png(width: int, height: int, seed: int) -> bytes:
    """A real PNG (WordPress makes its sizes with GD, so the bytes must decode)."""
    rows = b"".join(
        b"\x00" + bytes((x * 7 + y * 3 + seed) % 256 for x in range(width) for _ in range(3))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


COVER = png(600, 400, 1)
INLINE = (png(600, 400, 2), png(320, 200, 3))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def post_body(
    n: int | str, *, inline: tuple[bytes, ...] = INLINE, cover: bool = True
) -> dict[str, Any]:
    images = "".join(f'<p>第{i + 1}张图：<img src="image:{i}"></p>' for i in range(len(inline)))
    return {
        "title": f"公司举办年度技术交流会{n}",
        "digest": f"技术交流会回顾（{n}）",
        "author": "品牌部",
        "content": f"<p>本次交流会共有十个团队参加，编号{n}。</p>{images}<p>交流会圆满结束。</p>",
        "source": "本公司",
        "category": "company",
        **(
            {"cover": {"filename": "封面.png", "content_type": "image/png", "data": b64(COVER)}}
            if cover
            else {}
        ),
        "images": [
            {"filename": f"图{i}.png", "content_type": "image/png", "data": b64(data)}
            for i, data in enumerate(inline)
        ],
    }


def settings_for(base_url: str, **section: Any) -> Settings:
    base = load_settings(environ={})
    wordpress = {
        "base_url": base_url,
        "timeout_s": 30.0,
        "reconcile_grace_s": 3.0,
        "duplicate_watch_s": 2.0,
        **section,
    }
    return dataclasses.replace(
        base,
        delivery=dataclasses.replace(
            base.delivery, workers=2, lease_s=10.0, poll_interval_s=0.1, max_attempts=8
        ),
        connectors=dataclasses.replace(
            base.connectors, allow=("wordpress",), sections={"wordpress": wordpress}
        ),
    )


@dataclasses.dataclass
class Rig:
    api: Api
    site: WordPressSite

    async def posts(self, where: str) -> list[dict[str, str]]:
        return await asyncio.to_thread(self.site.posts, where)

    async def file(self, account: str, user: str, password: str | None = None) -> None:
        secret = self.site.passwords[user] if password is None else password
        await self.api.file_account(
            account,
            "wordpress",
            {"base_url": self.site.url},
            {"username": user, "app_password": secret},
        )

    async def publish(self, account: str, body: dict[str, Any]) -> dict[str, Any]:
        job = await self.api.publish(account, body)
        return await self.api.wait_final(job["id"], timeout_s=90)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:
        yield s


async def start(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,  # noqa: F811 - the fixture
    session: aiohttp.ClientSession,
    site: WordPressSite,
    **section: Any,
) -> Rig:
    app = create_app(settings_for(site.url, **section), runtime)
    server: TestServer = await aiohttp_server(app)
    app[WORKER].max_retry_after_s = 0.5
    api = Api(str(server.make_url("")).rstrip("/"), await create_callers(redis), session)
    rig = Rig(api, site)
    await rig.file(ACCOUNT, "author")
    return rig


@pytest.fixture
async def rig(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,  # noqa: F811 - the fixture
    session: aiohttp.ClientSession,
    site: WordPressSite,
) -> Rig:
    return await start(aiohttp_server, redis, runtime, session, site)


async def test_publish_edit_and_delete_through_the_gateway(rig: Rig) -> None:
    job = await rig.publish(ACCOUNT, post_body(1))
    assert job["state"] == "published", job
    [row] = await rig.posts(f"ID = {int(job['platform_id'])}")
    assert row["post_status"] == "publish" and row["post_title"] == "公司举办年度技术交流会1"
    content = row["post_content"]
    assert "本次交流会共有十个团队参加" in content and "image:" not in content
    attachments = await rig.posts(f"post_type = 'attachment' AND post_parent = {row['ID']}")
    assert len(attachments) == 3  # the cover and two in-article images, attached to the post
    titles = {a["post_title"] for a in attachments}
    assert titles == {"封面", "图0", "图1"}  # Chinese names became titles, files are ASCII
    assert all(a["guid"].rsplit("/", 1)[1].isascii() for a in attachments)
    thumb = rig.site.sql(
        f"SELECT meta_value FROM wp_postmeta WHERE post_id = {row['ID']} "
        "AND meta_key = '_thumbnail_id'",
        "wordpress",
    )
    by_title = {a["post_title"]: a["ID"] for a in attachments}
    assert [m["meta_value"] for m in thumb] == [by_title["封面"]]
    for name in ("图0", "图1"):
        assert f'class="wp-image-{by_title[name]}"' in content

    # the public page: srcset from the wp-image class, no empty paragraph from the marker
    status, _, public = rig.site.request("GET", f"/wp-json/wp/v2/posts/{row['ID']}")
    assert status == 200
    rendered = public["content"]["rendered"]
    assert "srcset=" in rendered and "<p><!--" not in rendered
    assert f"<!-- {marker('')}" in rendered

    # a second post with the same cover and one of the same images uploads only the new one
    second = await rig.publish(ACCOUNT, post_body(2, inline=(INLINE[0], png(300, 200, 9))))
    assert second["state"] == "published", second
    all_media = await rig.posts("post_type = 'attachment'")
    assert len(all_media) == 4
    [new] = [m for m in all_media if m["post_parent"] == second["platform_id"]]
    assert new["post_title"] == "图1"

    # edit: fresh approvals, the same post on the site, changed in place
    edited = post_body(1)
    edited["title"] = "公司举办年度技术交流会（更新）"
    tokens = await rig.api.approvals(ACCOUNT, edited)
    status, update = await rig.api.call(
        "PATCH", f"/v1/posts/{job['id']}", "editor", {"post": edited, "approvals": tokens}
    )
    assert status in (201, 202), update
    final = await rig.api.wait_final(update["id"], timeout_s=90)
    assert final["state"] == "published", final
    [row] = await rig.posts(f"ID = {row['ID']}")
    assert (row["post_status"], row["post_title"]) == ("publish", "公司举办年度技术交流会（更新）")
    assert len(await rig.posts("post_type = 'post' AND post_status = 'publish'")) == 3

    # delete (Brand-PR): to the site's trash
    status, deletion = await rig.api.call(
        "DELETE", f"/v1/posts/{job['id']}", "brand_pr", {"reason": "信息已过时"}
    )
    assert status in (201, 202), deletion
    final = await rig.api.wait_final(deletion["id"], timeout_s=90)
    assert final["state"] == "deleted", final
    [row] = await rig.posts(f"ID = {row['ID']}")
    assert row["post_status"] == "trash"


async def _marked(rig: Rig, job: dict[str, Any]) -> list[dict[str, str]]:
    """Every post (trash included) carrying the job's marker."""
    return await rig.posts(
        f"post_type = 'post' AND post_content LIKE '%mediagate:job={job['id']} %'"
    )


async def test_php_notice_before_the_json_of_a_201_makes_one_post(rig: Rig) -> None:
    rig.site.fault("notice_after_insert")
    job = await rig.publish(ACCOUNT, post_body("notice", inline=()))
    assert not rig.site.armed("notice_after_insert")
    assert job["state"] == "published", job
    rows = await _marked(rig, job)
    assert [(r["ID"], r["post_status"]) for r in rows] == [(job["platform_id"], "publish")]
    # what Brand-PR's documented retry would do cannot make a second post: the job is done
    status, _ = await rig.api.call(
        "POST", f"/v1/posts/{job['id']}/resolve", "brand_pr", {"resolution": "retry", "reason": "x"}
    )
    assert status == 409


async def test_create_that_outlives_the_grace_period_leaves_one_post(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,  # noqa: F811 - the fixture
    session: aiohttp.ClientSession,
    site: WordPressSite,
) -> None:
    """PHP sleeps 8 s before inserting; the connector gives up after 3 s, finds no post after
    the 1 s grace, creates it again, and the watch after that trashes the late first post."""
    rig = await start(
        aiohttp_server,
        redis,
        runtime,
        session,
        site,
        timeout_s=3.0,
        reconcile_grace_s=1.0,
        duplicate_watch_s=12.0,
    )
    site.fault("sleep_before_insert", "8")
    job = await rig.publish(ACCOUNT, post_body("late", inline=(), cover=False))
    assert job["state"] == "published", job
    rows = await _marked(rig, job)
    assert len(rows) == 2, rows  # the late insert did happen ...
    live = [r for r in rows if r["post_status"] == "publish"]
    assert [r["ID"] for r in live] == [job["platform_id"]]  # ... and only one post is public
    [late] = [r for r in rows if r["post_status"] == "trash"]
    notes = " ".join(h.get("note", "") for h in job["history"])
    assert f"trashed 1 duplicate post(s) carrying this job's marker: {late['ID']}" in notes


async def test_credentials_that_do_not_log_in_need_reauthorisation(rig: Rig) -> None:
    await rig.file("east-site-2", "author", password="wrongwrongwrongwrongwron")
    job = await rig.publish("east-site-2", post_body("auth", inline=()))
    assert job["state"] == "needs_reauth", job
    assert "application password is wrong" in job["reason"]
    assert "may strip the Authorization header" not in job["reason"]
    assert await rig.posts("post_type = 'post' AND post_title LIKE '%auth'") == []


def _image(name: str, data: bytes, ctype: str = "image/png") -> Image:
    return Image(name, ctype, data, hashlib.sha256(data).hexdigest())


def _outbound(title: str, images: tuple[Image, ...] = ()) -> OutboundPost:
    content = "".join(f'<p><img src="image:{i}"></p>' for i in range(len(images)))
    return OutboundPost(
        title,
        "摘要",
        "品牌部",
        content + "<p>正文</p>",
        "本公司",
        "company",
        "0" * 64,
        None,
        images,
    )


async def _ctx(
    redis: aredis.Redis, site: WordPressSite, user: str, password: str | None = None
) -> RedisPublishContext:
    secret = site.passwords[user] if password is None else password
    return await RedisPublishContext.create(
        redis,
        account=AccountRef("real", "wordpress", "官网", {"base_url": site.url}),
        credentials={"username": user, "app_password": secret},
    )


async def test_search_refused_to_a_visitor_needs_reauthorisation(
    redis: aredis.Redis, session: aiohttp.ClientSession, site: WordPressSite
) -> None:
    """A create whose outcome is unknown is reconciled by a status=any search; when the
    password no longer works WordPress answers 400 rest_invalid_param, not 401."""
    ctx = await _ctx(redis, site, "author", password="revokedrevokedrevokedrev")
    await ctx.checkpoint(wp_creating=1.0)
    connector = WordPressConnector(session=session, timeout_s=30.0)
    with pytest.raises(NeedsReauthorisation, match="Invalid parameter"):
        await connector.status(ctx)


@pytest.mark.parametrize(
    ("user", "image", "expected"),
    [
        ("contributor", _image("a.png", INLINE[1]), "403 rest_cannot_create"),
        ("author", _image("a.png", b"\x89PNG but not really"), "500 rest_upload_sideload_error"),
    ],
    ids=["contributor", "not-an-image"],
)
async def test_media_refusals_are_permanent(
    redis: aredis.Redis,
    session: aiohttp.ClientSession,
    site: WordPressSite,
    user: str,
    image: Image,
    expected: str,
) -> None:
    connector = WordPressConnector(session=session, timeout_s=30.0)
    ctx = await _ctx(redis, site, user)
    with pytest.raises(PermanentFailure, match=expected) as info:
        await connector.publish(_outbound(f"媒体{user}", (image,)), ctx)
    assert not isinstance(info.value, NeedsReauthorisation)
    assert await asyncio.to_thread(site.posts, f"post_title = '媒体{user}'") == []


async def test_an_edit_does_not_bring_back_a_post_trashed_on_the_site(rig: Rig) -> None:
    job = await rig.publish(ACCOUNT, post_body("trash", inline=()))
    status, _, _ = rig.site.request(
        "DELETE", f"/wp-json/wp/v2/posts/{job['platform_id']}", user="siteadmin"
    )
    assert status == 200
    edited = post_body("trash", inline=())
    edited["title"] += "（更新）"
    tokens = await rig.api.approvals(ACCOUNT, edited)
    _, update = await rig.api.call(
        "PATCH", f"/v1/posts/{job['id']}", "editor", {"post": edited, "approvals": tokens}
    )
    final = await rig.api.wait_final(update["id"], timeout_s=90)
    assert final["state"] == "failed" and "in the trash" in final["reason"], final
    [row] = await rig.posts(f"ID = {int(job['platform_id'])}")
    assert row["post_status"] == "trash" and not row["post_title"].endswith("（更新）")


async def test_ping_needs_the_rest_routes(
    session: aiohttp.ClientSession, site: WordPressSite
) -> None:
    assert await WordPressConnector(session=session, base_url=site.url).ping() is True
    # the same site behind Debian's shipped .htaccess: /wp-json/ is an HTML 404
    plain = WordPressConnector(session=session, base_url=site.plain_url)
    assert await plain.ping() is False
    checked = WordPressConnector(session=session, base_url=site.url)
    checked.validate(
        _outbound("x"), AccountRef("a", "wordpress", "n", {"base_url": site.plain_url})
    )
    assert await checked.ping() is False  # every account's site counts


REQUESTS: list[tuple[str, str, str, str | None, Any, dict[str, str]]] = [
    # (name, method, path, user or None, JSON body or bytes, headers)
    ("create-anonymous", "POST", "/wp-json/wp/v2/posts", None, {"title": "x"}, {}),
    ("create-wrong-password", "POST", "/wp-json/wp/v2/posts", "author:wrong", {"title": "x"}, {}),
    ("create-unknown-user", "POST", "/wp-json/wp/v2/posts", "nobody:wrong", {"title": "x"}, {}),
    ("create-empty", "POST", "/wp-json/wp/v2/posts", "author", {}, {}),
    ("search-any-wrong-password", "GET",
     "/wp-json/wp/v2/posts?status=any&context=edit&search=m", "author:wrong", None, {}),
    ("me-wrong-password", "GET", "/wp-json/wp/v2/users/me", "author:wrong", None, {}),
    ("media-anonymous", "POST", "/wp-json/wp/v2/media", None, INLINE[1],
     {"Content-Type": "image/png", "Content-Disposition": 'attachment; filename="a.png"'}),
    ("media-contributor", "POST", "/wp-json/wp/v2/media", "contributor", INLINE[1],
     {"Content-Type": "image/png", "Content-Disposition": 'attachment; filename="a.png"'}),
    ("media-not-an-image", "POST", "/wp-json/wp/v2/media", "author", b"\x89PNGxx",
     {"Content-Type": "image/png", "Content-Disposition": 'attachment; filename="a.png"'}),
    ("media-svg", "POST", "/wp-json/wp/v2/media", "author", b"<svg/>",
     {"Content-Type": "image/svg+xml", "Content-Disposition": 'attachment; filename="a.svg"'}),
    ("media-filename-star", "POST", "/wp-json/wp/v2/media", "author", INLINE[1],
     {"Content-Type": "image/png",
      "Content-Disposition": "attachment; filename*=UTF-8''%E5%B0%81%E9%9D%A2.png"}),
]  # fmt: skip


async def test_the_emulator_answers_like_this_site(
    aiohttp_server: Any, session: aiohttp.ClientSession, site: WordPressSite
) -> None:
    emulator = await aiohttp_server(
        make_emulator(
            users={name: [site.passwords[name]] for name in ("author", "contributor")},
            contributors=("contributor",),
        )
    )
    for name, method, path, who, payload, headers in REQUESTS:
        user, _, password = (who or "").partition(":")
        auth: dict[str, str] = {}
        if user:
            secret = password or site.passwords[user]
            auth = {"Authorization": site.auth(user, secret) if user in site.passwords else
                    "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}  # fmt: skip
        kwargs: dict[str, Any] = {"headers": {**headers, **auth}}
        if isinstance(payload, bytes):
            kwargs["data"] = payload
        elif payload is not None:
            kwargs["json"] = payload
        answers = []
        for base in (site.url, str(emulator.make_url("")).rstrip("/")):
            async with session.request(method, base + path, **kwargs) as resp:
                body = await resp.json(content_type=None)
                answers.append((resp.status, body.get("code"), body.get("message")))
        assert answers[0] == answers[1], name


RENDERED = [
    "<p>开场</p><p>中段</p><!-- mediagate:job=a -->",
    "<p>开场</p>\n<p>中段<!-- mediagate:job=b --></p>",
    "纯文本<!-- mediagate:job=c -->",
    "<ul><li>一</li><li>二<!-- mediagate:job=d --></li></ul>",
    "<div>块<!-- mediagate:job=e --></div>",
]


async def test_the_emulator_renders_content_like_this_site(
    aiohttp_server: Any, session: aiohttp.ClientSession, site: WordPressSite
) -> None:
    emulator = await aiohttp_server(make_emulator(users={"author": [site.passwords["author"]]}))
    auth = {"Authorization": site.auth("author")}
    for content in RENDERED:
        rendered = []
        for base in (site.url, str(emulator.make_url("")).rstrip("/")):
            async with session.post(
                base + "/wp-json/wp/v2/posts",
                json={"title": "渲染", "content": content, "status": "draft"},
                headers=auth,
            ) as resp:
                assert resp.status == 201
                rendered.append((await resp.json())["content"]["rendered"])
        assert rendered[0] == rendered[1], content


# -- bypass detection: the listing against the real site ------------------------------------

LISTED_POSTS = {
    "entities": (
        "新品&amp;发布",
        "<p>第一段&amp;第二段 &lt;注意&gt; &#x4E2D;&#25991;</p><p>&nbsp;结束「引号」</p>",
    ),
    "full-width spaces": (
        "\u3000全角\u3000空格标题\u3000",
        "<p>\u3000\u3000段首全角空格，中间\u3000空格。</p>\n\n第二段没有标签\n\n<p>第三段\u3000</p>",
    ),
    "html": (
        "结构化内容",
        "<h2>小标题</h2><ul><li>一</li><li>二</li></ul>"
        '<p>含<strong>加粗</strong>和<a href="https://www.example.com/x">链接</a></p>'
        "<!-- 编辑备注 --><blockquote>引用</blockquote>",
    ),
    "image, emoji, decomposed accent": (
        "发布会🎉",
        '<p>发布会🎉现场 cafe\u0301</p><p><img src="image:0" alt="现场图">图片说明</p>',
    ),
}


def listed_post(title: str, content: str) -> OutboundPost:
    images = (png(60, 40, 9),) if "image:0" in content else ()
    return OutboundPost(
        title=title,
        digest="",
        author="品牌部",
        content=content,
        source="本公司",
        category="company",
        content_sha256=hashlib.sha256(content.encode()).hexdigest(),
        images=tuple(
            Image(f"图{i}.png", "image/png", data, hashlib.sha256(data).hexdigest())
            for i, data in enumerate(images)
        ),
    )


async def test_listing_fingerprints_of_untouched_and_edited_posts(
    site: WordPressSite, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    """An author's post (kses filters it on save; wpautop renders it) fingerprints as
    ``expected``; an edit in wp-admin changes the fingerprint, the trash makes it gone."""
    account = AccountRef("real-listing", "wordpress", "站点", {"base_url": site.url})
    creds = {"username": "author", "app_password": site.passwords["author"]}
    conn = WordPressConnector(session=session, timeout_s=30.0)
    since = time.time() - 2
    published: dict[str, OutboundPost] = {}
    for title, content in LISTED_POSTS.values():
        post = listed_post(title, content)
        ctx = await RedisPublishContext.create(redis, account=account, credentials=creds)
        result = await conn.publish(post, ctx)
        published[result.platform_id] = post
    ctx = await RedisPublishContext.create(redis, account=account, credentials=creds)
    listed = {i.platform_id: i for i in await conn.recent(ctx, since=since, limit=50)}
    assert set(published) <= set(listed)
    for platform_id, post in published.items():
        want = fingerprint(*conn.expected(post))
        assert listed[platform_id].fingerprint == want, (listed[platform_id], post.title)
        fetched = await conn.fetch(ctx, platform_id)
        assert fetched is not None and fetched.fingerprint == want
        # what readers get (wpautop, wptexturize: no ASCII quotes in these texts) agrees too
        status, _, shown = await asyncio.to_thread(
            site.request, "GET", f"/wp-json/wp/v2/posts/{platform_id}"
        )
        assert status == 200
        rendered = fingerprint(
            visible_text(shown["title"]["rendered"]), visible_text(shown["content"]["rendered"])
        )
        assert rendered == want, shown["content"]["rendered"]

    edited_id, trashed_id = list(published)[:2]
    status, _, _ = await asyncio.to_thread(
        site.request,
        "POST",
        f"/wp-json/wp/v2/posts/{edited_id}",
        user=ADMIN_USER,
        body={"content": "<p>有人在后台改了正文</p>"},
    )
    assert status == 200
    edited = await conn.fetch(ctx, edited_id)
    assert edited is not None
    assert edited.fingerprint != fingerprint(*conn.expected(published[edited_id]))
    assert edited.text == "有人在后台改了正文" and edited.updated_at >= since
    status, _, _ = await asyncio.to_thread(
        site.request, "DELETE", f"/wp-json/wp/v2/posts/{trashed_id}", user=ADMIN_USER
    )
    assert status == 200
    assert await conn.fetch(ctx, trashed_id) is None
    assert await conn.fetch(ctx, "987654") is None
    relisted = {i.platform_id for i in await conn.recent(ctx, since=since, limit=50)}
    assert edited_id in relisted and trashed_id not in relisted


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
async def test_listing_since_holds_in_the_site_time_zone(
    zone: str, site: WordPressSite, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    """``modified_after`` carries +00:00, which WP_Date_Query converts to the site's zone."""
    account = AccountRef("real-tz", "wordpress", "站点", {"base_url": site.url})
    creds = {"username": "author", "app_password": site.passwords["author"]}
    conn = WordPressConnector(session=session, timeout_s=30.0)
    await asyncio.to_thread(
        site.sql,
        f"UPDATE wp_options SET option_value = '{zone}' WHERE option_name = 'timezone_string'",
        "wordpress",
    )
    try:
        ctx = await RedisPublishContext.create(redis, account=account, credentials=creds)
        result = await conn.publish(listed_post(f"时区{zone}", "<p>时区测试</p>"), ctx)
        # an item modified three hours ago (in GMT, and in the site's zone)
        await asyncio.to_thread(
            site.sql,
            "UPDATE wp_posts SET post_modified_gmt = UTC_TIMESTAMP() - INTERVAL 3 HOUR, "
            "post_modified = post_modified - INTERVAL 3 HOUR "
            f"WHERE ID = {int(result.platform_id)}",
            "wordpress",
        )
        recent = await conn.recent(ctx, since=time.time() - 2 * 3600, limit=100)
        assert result.platform_id not in {i.platform_id for i in recent}
        older = await conn.recent(ctx, since=time.time() - 4 * 3600, limit=100)
        [item] = [i for i in older if i.platform_id == result.platform_id]
        assert abs(item.updated_at - (time.time() - 3 * 3600)) < 120
    finally:
        await asyncio.to_thread(
            site.sql,
            "UPDATE wp_options SET option_value = '' WHERE option_name = 'timezone_string'",
            "wordpress",
        )


async def test_listing_with_revoked_credentials_needs_reauthorisation(
    site: WordPressSite, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    account = AccountRef("real-revoked", "wordpress", "站点", {"base_url": site.url})
    creds = {"username": "author", "app_password": "wrong pass word 1234 5678 abcd"}
    conn = WordPressConnector(session=session, timeout_s=30.0)
    ctx = await RedisPublishContext.create(redis, account=account, credentials=creds)
    with pytest.raises(NeedsReauthorisation):
        await conn.recent(ctx, since=time.time() - 60, limit=5)
    with pytest.raises(NeedsReauthorisation):
        await conn.fetch(ctx, "1")


async def test_a_post_kses_changed_on_save_is_not_taken_for_untouched(
    site: WordPressSite, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    """An author lacks ``unfiltered_html``: kses drops the ``<script>``/``<style>`` tags on save
    and keeps their text, which readers then see and screening never saw (it skips script
    text). The listing shows the difference instead of hiding it."""
    account = AccountRef("real-kses", "wordpress", "站点", {"base_url": site.url})
    creds = {"username": "author", "app_password": site.passwords["author"]}
    conn = WordPressConnector(session=session, timeout_s=30.0)
    post = listed_post("脚本", "<p>正文</p><script>var 隐藏 = 1;</script><style>p{}</style>")
    ctx = await RedisPublishContext.create(redis, account=account, credentials=creds)
    result = await conn.publish(post, ctx)
    item = await conn.fetch(ctx, result.platform_id)
    assert item is not None and "隐藏" in item.text
    assert conn.expected(post) == ("脚本", "正文")
    assert item.fingerprint != fingerprint(*conn.expected(post))


async def test_listing_pages_through_the_real_site(
    site: WordPressSite, session: aiohttp.ClientSession, redis: aredis.Redis
) -> None:
    """More than one page (X-WP-TotalPages), most recently modified first, published and
    private posts listed, drafts and trashed posts not."""
    marker_title = f"分页{time.time_ns()}"
    rows = [("publish", n) for n in range(103)] + [("private", 103), ("draft", 104), ("trash", 105)]
    values = ", ".join(
        f"(1, UTC_TIMESTAMP(), UTC_TIMESTAMP(), '<p>第{n}篇正文</p>', '{marker_title}-{n}', '', "
        f"'{status}', 'page-{marker_title}-{n}', UTC_TIMESTAMP() - INTERVAL {200 - n} SECOND, "
        f"UTC_TIMESTAMP() - INTERVAL {200 - n} SECOND, 'post', '', '', '', '')"
        for status, n in rows
    )
    await asyncio.to_thread(
        site.sql,
        "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, "
        "post_excerpt, post_status, post_name, post_modified, post_modified_gmt, post_type, "
        f"to_ping, pinged, post_content_filtered, guid) VALUES {values}",
        "wordpress",
    )
    account = AccountRef("real-pages", "wordpress", "站点", {"base_url": site.url})
    creds = {"username": ADMIN_USER, "app_password": site.passwords[ADMIN_USER]}
    conn = WordPressConnector(session=session, timeout_s=30.0)
    ctx = await RedisPublishContext.create(redis, account=account, credentials=creds)
    listed = [
        i for i in await conn.recent(ctx, since=time.time() - 600, limit=500)
        if i.title.startswith(marker_title)
    ]  # fmt: skip
    assert [i.title for i in listed] == [f"{marker_title}-{n}" for n in range(103, -1, -1)]
    assert listed[0].text == "第103篇正文"
    newest = await conn.recent(ctx, since=time.time() - 600, limit=5)
    assert len(newest) == 5
