"""WordPressConnector against the loopback WordPress emulator, checkpoints in the real Redis."""

from __future__ import annotations

import asyncio
import base64
import hashlib
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
    Unconfirmed,
)
from connectors.emulators import faults
from connectors.emulators.wordpress import STATE_KEY, make_app
from connectors.wordpress import WordPressConnector, marker
from gateway.keys import Keys
from gateway.platform_media import AccountMediaLibrary
from tests.connectors.support import RedisPublishContext, SimulatedCrash, drive

SECRET = "WPsecret9Q7zK2mX4vB8nL1c"  # recognisable application password
CREDS = {"username": "editor", "app_password": SECRET}
POSTS = "/wp-json/wp/v2/posts"


def _image(name: str, data: bytes, ctype: str = "image/jpeg") -> Image:
    return Image(name, ctype, data, hashlib.sha256(data).hexdigest())


JPEG, PNG = b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n"  # what the site sniffs as images
COVER = _image("封面.jpg", JPEG + b"cover")
INLINE = (_image("a.png", PNG + b"a", "image/png"), _image("b.jpg", JPEG + b"b"))


def second_tag(media: dict[str, Any]) -> str:
    return f'<img class="wp-image-{media["id"]}" alt="b" src="{media["source_url"]}">'


def make_post(title: str = "公司年会圆满举行", **kw: Any) -> OutboundPost:
    fields: dict[str, Any] = {
        "title": title,
        "digest": "年会回顾",
        "author": "品牌部",
        "content": '<p>开场</p><img src="image:0"><p>中段</p><img alt="b" src="image:1">',
        "source": "本公司",
        "category": "company",
        "content_sha256": "1" * 64,
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
    return await aiohttp_server(make_app(users={"editor": [SECRET]}))


def account(server: TestServer, **settings: Any) -> AccountRef:
    return AccountRef(
        "site", "wordpress", "官网", {"base_url": str(server.make_url("")), **settings}
    )


def connector(session: aiohttp.ClientSession, **kw: Any) -> WordPressConnector:
    return WordPressConnector.from_config({"timeout_s": 2.0, **kw}, session=session)


async def new_ctx(redis: aredis.Redis, server: TestServer, **kw: Any) -> RedisPublishContext:
    acc = kw.pop("account", None) or account(server)
    return await RedisPublishContext.create(redis, account=acc, credentials=CREDS, **kw)


async def resume(redis: aredis.Redis, ctx: RedisPublishContext) -> RedisPublishContext:
    return await RedisPublishContext.resume(
        redis, ctx.job_id, account=ctx.account, credentials=CREDS
    )


def live(server: TestServer) -> list[dict[str, Any]]:
    return [p for p in server.app[STATE_KEY].posts.values() if not p.get("_deleted")]


async def test_publish_end_to_end_reads_back(server: TestServer, session: Any, redis: Any) -> None:
    ctx = await new_ctx(redis, server)
    result = await connector(session).publish(make_post(), ctx)
    assert isinstance(result, Published)
    async with session.get(server.make_url("/_emulator/items")) as resp:
        items = await resp.json()
    [post] = items["posts"]
    assert str(post["id"]) == result.platform_id and post["status"] == "publish"
    assert post["title"]["raw"] == "公司年会圆满举行" and post["excerpt"]["raw"] == "年会回顾"
    assert result.url == post["link"]
    media = {m["media_details"]["sha256"]: m for m in items["media"]}
    assert set(media) == {COVER.sha256, INLINE[0].sha256, INLINE[1].sha256}
    assert post["featured_media"] == media[COVER.sha256]["id"]
    raw = post["content"]["raw"]
    assert "image:" not in raw
    first, second = media[INLINE[0].sha256], media[INLINE[1].sha256]
    assert f'<img class="wp-image-{first["id"]}" src="{first["source_url"]}">' in raw
    assert second_tag(second) in raw
    # the marker sits inside the last element: no empty paragraph in the public page
    assert raw.endswith(f"<p>中段</p>{second_tag(second)}<!-- mediagate:job={ctx.job_id} -->")
    assert "<p><!--" not in post["content"]["rendered"]
    # every attachment hangs under the post; the Chinese file name went up as ASCII, and
    # became the attachment's title
    assert {m["post"] for m in items["media"]} == {post["id"]}
    cover = media[COVER.sha256]
    assert cover["source_url"].endswith(f"/image-{COVER.sha256[:12]}.jpg")
    assert cover["title"]["raw"] == "封面"
    async with session.get(media[INLINE[1].sha256]["source_url"]) as resp:
        assert await resp.read() == INLINE[1].data
    assert (await connector(session).status(ctx)).platform_id == result.platform_id


async def test_slug_deduplication(server: TestServer, session: Any, redis: Any) -> None:
    c = connector(session)
    results = [
        await c.publish(make_post(title="Annual Party"), await new_ctx(redis, server))
        for _ in range(3)
    ]
    assert [r.details["slug"] for r in results] == [
        "annual-party",
        "annual-party-2",
        "annual-party-3",
    ]


async def test_5xx_on_create_is_retried_once(server: TestServer, session: Any, redis: Any) -> None:
    server.app[faults.FAULTS_KEY].add(path=POSTS, status=503, times=1)
    ctx = await new_ctx(redis, server)
    with pytest.raises(RetryLater):
        await connector(session).publish(make_post(), ctx)
    assert live(server) == []
    resumed = await resume(redis, ctx)
    await connector(session).publish(make_post(), resumed)
    assert len(live(server)) == 1
    # media uploaded on the first attempt were checkpointed and not uploaded again
    assert server.app[STATE_KEY].counters["media.created"] == 3


async def test_5xx_on_media_is_retry_later(server: TestServer, session: Any, redis: Any) -> None:
    server.app[faults.FAULTS_KEY].add(path="/wp-json/wp/v2/media", status=503, times=1)
    ctx = await new_ctx(redis, server)
    with pytest.raises(RetryLater):
        await connector(session).publish(make_post(), ctx)
    await connector(session).publish(make_post(), await resume(redis, ctx))
    assert len(live(server)) == 1 and server.app[STATE_KEY].counters["media.created"] == 3


async def test_drop_after_create_is_reconciled(
    server: TestServer, session: Any, redis: Any
) -> None:
    server.app[faults.FAULTS_KEY].add(path=POSTS, drop_after_apply=True, times=1)
    ctx = await new_ctx(redis, server)
    result = await connector(session).publish(make_post(), ctx)
    assert result.details["how"] == "reconciled after a lost answer"
    assert [str(p["id"]) for p in live(server)] == [result.platform_id]


async def test_hang_is_unconfirmed_then_created_once_after_grace(
    server: TestServer, session: Any, redis: Any
) -> None:
    server.app[faults.FAULTS_KEY].add(path=POSTS, hang=True, times=1)
    ctx = await new_ctx(redis, server)
    with pytest.raises(Unconfirmed) as info:
        await connector(session, timeout_s=0.5).publish(make_post(), ctx)
    assert info.value.step == "create" and live(server) == []
    with pytest.raises(Unconfirmed, match="not creating again"):
        await connector(session).publish(make_post(), await resume(redis, ctx))
    with pytest.raises(Unconfirmed):
        await connector(session).status(await resume(redis, ctx))
    again = await connector(session, reconcile_grace_s=0).publish(
        make_post(), await resume(redis, ctx)
    )
    # created again: watched for a late duplicate before it counts as published
    assert isinstance(again, Pending) and "created again" in again.details["note"]
    assert len(live(server)) == 1
    done = await connector(session, duplicate_watch_s=0).status(await resume(redis, ctx))
    assert isinstance(done, Published) and done.platform_id == again.platform_id


async def test_crash_after_create_resumes_without_duplicate(
    server: TestServer, session: Any, redis: Any
) -> None:
    ctx = await new_ctx(redis, server, crash_on="wp_post_id")
    with pytest.raises(SimulatedCrash):
        await connector(session).publish(make_post(), ctx)
    result = await connector(session, reconcile_grace_s=0).publish(
        make_post(), await resume(redis, ctx)
    )
    assert result.details["how"] == "reconciled on resume"
    assert len(live(server)) == 1


@pytest.mark.parametrize("how", ["revoked", "unknown-user", "stripped", "app-passwords-off"])
async def test_credentials_not_logging_in_need_reauthorisation(
    server: TestServer, session: Any, redis: Any, caplog: Any, how: str
) -> None:
    """WordPress answers a wrong password, an unknown user and a stripped header alike (the
    request runs as a visitor): the reason names the likely causes, the password first, and
    does not claim that the header was stripped."""
    caplog.set_level(logging.DEBUG)
    creds = dict(CREDS)
    if how == "revoked":
        async with session.post(server.make_url("/_emulator/revoke"), json={}):
            pass
    elif how == "unknown-user":
        creds["username"] = "nobody"
    elif how == "stripped":
        server.app[STATE_KEY].strip_auth = True
    else:
        server.app[STATE_KEY].app_passwords = False
    ctx = await RedisPublishContext.create(redis, account=account(server), credentials=creds)
    with pytest.raises(NeedsReauthorisation) as info:
        await connector(session).publish(make_post(images=(), cover=None, content="<p>x</p>"), ctx)
    reason = info.value.reason
    assert "rest_cannot_create" in reason
    if how == "app-passwords-off":  # the one cause the REST index shows
        assert "does not offer Application Passwords" in reason and "HTTPS" in reason
        assert "password is wrong" not in reason
    else:
        assert "as anonymous" in reason
        assert reason.index("application password is wrong") < reason.index("strips")
    assert "may strip the Authorization header" not in reason
    assert SECRET not in reason and SECRET not in caplog.text
    assert live(server) == []


async def test_search_refused_for_a_visitor_needs_reauthorisation(
    server: TestServer, session: Any, redis: Any
) -> None:
    """A resumed create searches with status=any; WordPress answers a visitor 400
    rest_invalid_param (status), which means the credentials stopped working."""
    server.app[faults.FAULTS_KEY].add(path=POSTS, hang=True, times=1)
    ctx = await new_ctx(redis, server)
    with pytest.raises(Unconfirmed):
        await connector(session, timeout_s=0.3).publish(make_post(), ctx)
    async with session.post(server.make_url("/_emulator/revoke"), json={}):
        pass
    with pytest.raises(NeedsReauthorisation, match="Invalid parameter"):
        await connector(session).status(await resume(redis, ctx))
    with pytest.raises(NeedsReauthorisation):
        await connector(session).publish(make_post(), await resume(redis, ctx))


async def test_update_replaces_the_post(server: TestServer, session: Any, redis: Any) -> None:
    ctx = await new_ctx(redis, server)
    c = connector(session)
    first = await c.publish(make_post(), ctx)
    new_inline = _image("c.jpg", JPEG + b"c")
    updated = await c.update(
        make_post(title="年会（更新）", content='<img src="image:0">', images=(new_inline,)), ctx
    )
    assert updated.platform_id == first.platform_id
    [post] = live(server)
    assert post["title"] == "年会（更新）" and "c.jpg" in post["content"]
    assert len(live(server)) == 1


@pytest.mark.parametrize("mode", ["trash", "force"])
async def test_delete_trash_or_force(
    server: TestServer, session: Any, redis: Any, mode: str
) -> None:
    ctx = await new_ctx(redis, server, account=account(server, delete=mode))
    c = connector(session)
    published = await c.publish(make_post(), ctx)
    assert (await c.delete(ctx)).platform_id == published.platform_id
    post = server.app[STATE_KEY].posts[int(published.platform_id)]
    if mode == "trash":
        assert post["status"] == "trash" and not post.get("_deleted")
    else:
        assert post.get("_deleted")
    # repeating the delete (410 rest_already_trashed / 404 after force) counts as done
    assert (await c.delete(await resume(redis, ctx))).platform_id == published.platform_id
    with pytest.raises(PermanentFailure):
        await c.status(ctx)


async def test_trash_disabled_is_a_clear_failure(
    aiohttp_server: Any, session: Any, redis: Any
) -> None:
    server = await aiohttp_server(make_app(users={"editor": [SECRET]}, trash_enabled=False))
    ctx = await new_ctx(redis, server)
    await connector(session).publish(make_post(), ctx)
    with pytest.raises(PermanentFailure, match="delete = 'force'"):
        await connector(session).delete(ctx)


def test_validate() -> None:
    c = WordPressConnector(session=None)  # type: ignore[arg-type]  # validate does no I/O
    acc = AccountRef("s", "wordpress", "n", {"base_url": "https://www.example.com"})
    assert c.validate(make_post(), acc) == []
    assert any("image:5" in p for p in c.validate(make_post(content='<img src="image:5">'), acc))
    assert any("title" in p for p in c.validate(make_post(title=""), acc))
    assert any("base_url" in p for p in c.validate(make_post(), AccountRef("s", "wordpress", "n")))


def test_unknown_config_key_is_named() -> None:
    with pytest.raises(ValueError, match="delete_mode"):
        WordPressConnector.from_config({"delete_mode": "x"}, session=None)  # type: ignore[arg-type]


async def test_emulator_application_password_with_spaces(server: TestServer, session: Any) -> None:
    chunked = " ".join(SECRET[i : i + 4] for i in range(0, len(SECRET), 4))
    auth = "Basic " + base64.b64encode(f"editor:{chunked}".encode()).decode()
    async with session.get(
        server.make_url("/wp-json/wp/v2/users/me"), headers={"Authorization": auth}
    ) as resp:
        assert resp.status == 200


async def test_emulator_media_upload_errors(server: TestServer, session: Any) -> None:
    auth = "Basic " + base64.b64encode(f"editor:{SECRET}".encode()).decode()
    url = server.make_url("/wp-json/wp/v2/media")
    async with session.post(
        url, data=b"x", headers={"Authorization": auth, "Content-Type": "image/png"}
    ) as resp:
        assert (await resp.json())["code"] == "rest_upload_no_content_disposition"
    headers = {"Authorization": auth, "Content-Type": "image/png", "Content-Disposition": "inline"}
    async with session.post(url, data=b"x", headers=headers) as resp:
        body = await resp.json()
        assert resp.status == 400 and body["code"] == "rest_upload_invalid_disposition"
        assert body["data"]["status"] == 400


async def test_ping(server: TestServer, session: Any, refused_port: int) -> None:
    assert await connector(session, base_url=str(server.make_url(""))).ping() is True
    assert await connector(session, base_url=f"http://127.0.0.1:{refused_port}").ping() is False


async def test_conformance_kit(server: TestServer, session: Any) -> None:
    from connectors.testing import assert_conformant

    await assert_conformant(
        WordPressConnector,
        section={"base_url": str(server.make_url("")), "timeout_s": 2.0},
        session=session,
        account=account(server),
        post=make_post(),
        credentials=CREDS,
        bad_credentials={"username": "editor", "app_password": "wrongwrongwrongwrong"},
    )


async def test_504_from_a_proxy_is_unconfirmed_not_retried(
    server: TestServer, session: Any, redis: Any
) -> None:
    server.app[faults.FAULTS_KEY].add(path=POSTS, status=504, times=1)
    ctx = await new_ctx(redis, server)
    with pytest.raises(Unconfirmed, match="proxy"):
        await connector(session).publish(make_post(), ctx)
    assert live(server) == []
    await connector(session, reconcile_grace_s=0).publish(make_post(), await resume(redis, ctx))
    assert len(live(server)) == 1


@pytest.mark.parametrize("path", ["/wp-json/wp/v2/media", POSTS])
@pytest.mark.parametrize(
    "fault",
    [{"status": 503}, {"status": 500}, {"status": 504}, {"hang": True}, {"drop_after_apply": True}],
    ids=["503", "500", "504", "hang", "drop"],
)
async def test_fault_matrix_publishes_exactly_once(
    server: TestServer, session: Any, redis: Any, path: str, fault: dict[str, Any]
) -> None:
    """Driven like the pipeline (RetryLater → publish, Unconfirmed → status), every fault on
    every step ends with exactly one post."""
    server.app[faults.FAULTS_KEY].add(path=path, times=1, **fault)
    ctx = await new_ctx(redis, server)
    c = connector(session, timeout_s=0.4, reconcile_grace_s=0.5, duplicate_watch_s=0.3)
    outcomes: list[Exception] = []
    result = await drive(
        c, make_post(), lambda: resume(redis, ctx), outcomes=outcomes, wait_s=0.05, max_rounds=60
    )
    assert isinstance(result, Published)
    assert len(live(server)) == 1 and server.app[STATE_KEY].counters["posts.created"] == 1
    assert all(isinstance(o, RetryLater | Unconfirmed) for o in outcomes)


async def test_user_without_publish_capability_is_permanent(
    aiohttp_server: Any, session: Any, redis: Any
) -> None:
    server = await aiohttp_server(make_app(users={"editor": [SECRET]}, contributors=("editor",)))
    ctx = await new_ctx(redis, server)
    text_only = make_post(images=(), cover=None, content="<p>x</p>")
    with pytest.raises(PermanentFailure, match="rest_cannot_publish") as info:
        await connector(session).publish(text_only, ctx)
    assert not isinstance(info.value, NeedsReauthorisation)
    assert live(server) == [] and ctx.state["wp_creating"] is None
    # a Contributor may not upload either: 403 rest_cannot_create, not a credentials problem
    with pytest.raises(PermanentFailure, match="403 rest_cannot_create") as info:
        await connector(session).publish(make_post(), await new_ctx(redis, server))
    assert not isinstance(info.value, NeedsReauthorisation)


@pytest.mark.parametrize(("status", "outcome"), [(429, RetryLater), (400, PermanentFailure)])
async def test_other_create_answers(
    server: TestServer, session: Any, redis: Any, status: int, outcome: type[Exception]
) -> None:
    server.app[faults.FAULTS_KEY].add(path=POSTS, status=status, times=1)
    with pytest.raises(outcome):
        await connector(session).publish(make_post(), await new_ctx(redis, server))
    assert live(server) == []


async def test_php_notice_before_the_json_of_a_201_is_reconciled_not_failed(
    server: TestServer, session: Any, redis: Any
) -> None:
    """Duplicate case 1: a 2xx answer that is not pure JSON is never a refusal."""
    server.app[STATE_KEY].notices = 1
    ctx = await new_ctx(redis, server)
    result = await connector(session).publish(make_post(), ctx)
    assert isinstance(result, Published) and "reconciled after HTTP 201" in result.details["how"]
    assert [str(p["id"]) for p in live(server)] == [result.platform_id]
    # a retry of the same job (what Brand-PR would do) does not create a second post
    again = await connector(session).publish(make_post(), await resume(redis, ctx))
    assert again.platform_id == result.platform_id and len(live(server)) == 1


async def test_create_that_outlives_the_grace_is_swept_to_the_trash(
    server: TestServer, session: Any, redis: Any
) -> None:
    """Duplicate case 2: the first create inserts its post after the connector concluded
    "no post" and created it again; the watch after the re-create trashes the late one."""
    server.app[STATE_KEY].late_insert_s = 1.0
    ctx = await new_ctx(redis, server)
    c = connector(session, timeout_s=0.3, reconcile_grace_s=0.2, duplicate_watch_s=30)
    with pytest.raises(Unconfirmed):
        await c.publish(make_post(), ctx)
    await asyncio.sleep(0.3)
    with pytest.raises(RetryLater, match="create again"):
        await c.status(await resume(redis, ctx))
    again = await c.publish(make_post(), await resume(redis, ctx))
    assert isinstance(again, Pending) and len(live(server)) == 1
    await asyncio.sleep(1.2)  # the first request inserts its post now
    assert len(live(server)) == 2
    watching = await c.status(await resume(redis, ctx))
    assert isinstance(watching, Pending)
    [late] = [p for p in live(server) if str(p["id"]) != again.platform_id]
    assert (
        f"trashed 1 duplicate post(s) carrying this job's marker: {late['id']}"
        in (watching.details["note"])
    )
    assert [str(p["id"]) for p in live(server) if p["status"] == "publish"] == [again.platform_id]
    assert server.app[STATE_KEY].posts[late["id"]]["status"] == "trash"
    done = await connector(session, duplicate_watch_s=0).status(await resume(redis, ctx))
    assert isinstance(done, Published) and done.platform_id == again.platform_id
    assert str(late["id"]) in done.details["note"]


async def test_two_posts_found_at_reconcile_keep_the_oldest(
    server: TestServer, session: Any, redis: Any
) -> None:
    ctx = await new_ctx(redis, server)
    fields = {"title": "t", "status": "publish", "content": f"<!-- {marker(ctx.job_id)} -->"}
    auth = {"Authorization": "Basic " + base64.b64encode(f"editor:{SECRET}".encode()).decode()}
    ids = []
    for _ in range(2):
        async with session.post(server.make_url(POSTS), json=fields, headers=auth) as resp:
            ids.append((await resp.json())["id"])
    await ctx.checkpoint(wp_creating=time.time())
    result = await connector(session).publish(make_post(), await resume(redis, ctx))
    assert result.platform_id == str(ids[0])
    assert [p["id"] for p in live(server) if p["status"] == "publish"] == [ids[0]]


async def test_identical_media_are_uploaded_once_per_account(
    server: TestServer, session: Any, redis: Any
) -> None:
    c = connector(session)
    library = AccountMediaLibrary(redis, Keys("test"), "site")
    results = []
    for title in ("第一篇", "第二篇", "第三篇"):
        ctx = await new_ctx(redis, server)
        ctx.media = library  # type: ignore[attr-defined]  # what the gateway's context offers
        results.append(await c.publish(make_post(title=title), ctx))
    state = server.app[STATE_KEY]
    assert state.counters["media.created"] == 3  # the cover and two inline images, once
    posts = [state.posts[int(r.platform_id)] for r in results]
    assert len({p["featured_media"] for p in posts}) == 1
    # attached to the first post that used them
    assert {m["post"] for m in state.media.values()} == {int(results[0].platform_id)}
    assert all(f"wp-image-{m}" in p["content"] for p in posts for m in state.media if m != 1)
    # an attachment deleted on the site is uploaded again, not referenced dead
    del state.media[posts[0]["featured_media"]]
    ctx = await new_ctx(redis, server)
    ctx.media = library  # type: ignore[attr-defined]
    fourth = await c.publish(make_post(title="第四篇"), ctx)
    assert state.counters["media.created"] == 4
    assert state.posts[int(fourth.platform_id)]["featured_media"] in state.media
    # another account does not share the library
    other = await new_ctx(redis, server)
    other.media = AccountMediaLibrary(redis, Keys("test"), "other")  # type: ignore[attr-defined]
    await c.publish(make_post(title="第五篇"), other)
    assert state.counters["media.created"] == 7


async def test_image_that_is_not_an_image_fails_at_once(
    server: TestServer, session: Any, redis: Any
) -> None:
    """500 rest_upload_sideload_error is about the file: not retried (8 times over minutes)."""
    bogus = _image("fake.png", b"not an image at all", "image/png")
    with pytest.raises(PermanentFailure, match="rest_upload_sideload_error") as info:
        await connector(session).publish(
            make_post(images=(bogus, INLINE[1])), await new_ctx(redis, server)
        )
    assert not isinstance(info.value, RetryLater)
    assert live(server) == []


async def test_edit_does_not_bring_back_a_trashed_post(
    server: TestServer, session: Any, redis: Any
) -> None:
    ctx = await new_ctx(redis, server)
    c = connector(session)
    published = await c.publish(make_post(), ctx)
    post = server.app[STATE_KEY].posts[int(published.platform_id)]
    post["status"] = "trash"  # someone trashed it in wp-admin
    updates_before = server.app[STATE_KEY].counters["posts.update"]
    with pytest.raises(PermanentFailure, match="in the trash") as info:
        await c.update(make_post(title="改"), ctx)
    assert "not sent" in info.value.reason
    assert post["status"] == "trash" and post["title"] == "公司年会圆满举行"
    assert server.app[STATE_KEY].counters["posts.update"] == updates_before
    # an edit of a live post leaves its status alone (a draft stays a draft)
    post["status"] = "draft"
    await c.update(make_post(title="改"), ctx)
    assert post["status"] == "draft" and post["title"] == "改"


async def test_ping_wants_wordpress_json_from_every_site(
    aiohttp_server: Any, server: TestServer, session: Any
) -> None:
    c = connector(session, base_url=str(server.make_url("")))
    assert await c.ping() is True
    other = await aiohttp_server(make_app(users={"editor": [SECRET]}))
    c.validate(make_post(), account(other))  # the connector has now seen the account's site
    assert await c.ping() is True
    other.app[STATE_KEY].pretty_permalinks = False  # /wp-json/ is an HTML 404 there
    assert await c.ping() is False


async def test_update_whose_read_fails_is_retried_not_reconciled(
    server: TestServer, session: Any, redis: Any
) -> None:
    """An Unconfirmed from update() would make the pipeline ask status(), which finds the
    (unchanged) post and calls the edit done; a failed read before the edit is RetryLater."""
    ctx = await new_ctx(redis, server)
    c = connector(session)
    published = await c.publish(make_post(), ctx)
    server.app[faults.FAULTS_KEY].add(path=f"{POSTS}/{published.platform_id}", status=503, times=1)
    with pytest.raises(RetryLater):
        await c.update(make_post(title="改"), ctx)
    await c.update(make_post(title="改"), await resume(redis, ctx))
    assert server.app[STATE_KEY].posts[int(published.platform_id)]["title"] == "改"
