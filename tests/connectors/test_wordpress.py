"""WordPressConnector against the loopback WordPress emulator, checkpoints in the real Redis."""

from __future__ import annotations

import base64
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
from connectors.emulators.wordpress import STATE_KEY, make_app
from connectors.wordpress import WordPressConnector
from tests.connectors.support import RedisPublishContext, SimulatedCrash, drive

SECRET = "WPsecret9Q7zK2mX4vB8nL1c"  # recognisable application password
CREDS = {"username": "editor", "app_password": SECRET}
POSTS = "/wp-json/wp/v2/posts"


def _image(name: str, data: bytes, ctype: str = "image/jpeg") -> Image:
    return Image(name, ctype, data, hashlib.sha256(data).hexdigest())


COVER = _image("封面.jpg", b"\xff\xd8cover")
INLINE = (_image("a.png", b"\x89PNGa", "image/png"), _image("b.jpg", b"\xff\xd8b"))


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
    assert f'src="{media[INLINE[0].sha256]["source_url"]}"' in raw
    assert f'src="{media[INLINE[1].sha256]["source_url"]}"' in raw
    assert f"<!-- mediagate:job={ctx.job_id} -->" in raw
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
    await connector(session, reconcile_grace_s=0).publish(make_post(), await resume(redis, ctx))
    assert len(live(server)) == 1


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


async def test_revoked_password_needs_reauthorisation(
    server: TestServer, session: Any, redis: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.post(server.make_url("/_emulator/revoke"), json={}):
        pass
    ctx = await new_ctx(redis, server)
    with pytest.raises(NeedsReauthorisation, match="incorrect_password") as info:
        await connector(session).publish(make_post(), ctx)
    assert SECRET not in str(info.value) and SECRET not in caplog.text
    assert live(server) == []


async def test_stripped_authorization_header_is_explained(
    server: TestServer, session: Any, redis: Any
) -> None:
    server.app[STATE_KEY].strip_auth = True
    with pytest.raises(NeedsReauthorisation, match="strip the Authorization header"):
        await connector(session).publish(
            make_post(images=(), cover=None, content="<p>x</p>"), await new_ctx(redis, server)
        )


async def test_update_replaces_the_post(server: TestServer, session: Any, redis: Any) -> None:
    ctx = await new_ctx(redis, server)
    c = connector(session)
    first = await c.publish(make_post(), ctx)
    new_inline = _image("c.jpg", b"\xff\xd8c")
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


async def test_ping(server: TestServer, session: Any, unused_tcp_port: int) -> None:
    assert await connector(session, base_url=str(server.make_url(""))).ping() is True
    assert await connector(session, base_url=f"http://127.0.0.1:{unused_tcp_port}").ping() is False


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
    c = connector(session, timeout_s=0.4, reconcile_grace_s=0.5)
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
    with pytest.raises(PermanentFailure, match="rest_cannot_publish") as info:
        await connector(session).publish(make_post(), ctx)
    assert not isinstance(info.value, NeedsReauthorisation)
    assert live(server) == [] and ctx.state["wp_creating"] is None


@pytest.mark.parametrize(("status", "outcome"), [(429, RetryLater), (400, PermanentFailure)])
async def test_other_create_answers(
    server: TestServer, session: Any, redis: Any, status: int, outcome: type[Exception]
) -> None:
    server.app[faults.FAULTS_KEY].add(path=POSTS, status=status, times=1)
    with pytest.raises(outcome):
        await connector(session).publish(make_post(), await new_ctx(redis, server))
    assert live(server) == []
