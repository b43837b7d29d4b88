"""WeChatConnector as a :class:`connectors.base.Lister` (bypass detection, docs/bypass.md):
``freepublish/batchget`` paged within the window, ``freepublish/getarticle`` for one article, the
article ids equal to what :class:`Published` held, faults as outcomes, tokens refreshed."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestServer

from connectors.base import Lister, NeedsReauthorisation, Published, RetryLater, fingerprint
from connectors.emulators.wechat import STATE_KEY
from tests.connectors.test_wechat import (
    APP_SECRET,
    counters,
    make_connector,
    make_post,
    new_ctx,
    server,
    session,
)
from tests.connectors.test_wechat import control as emu_post

__all__ = ["server", "session"]  # fixtures


async def _console(server: TestServer, n: int) -> str:
    data = await emu_post(
        server, "/_emulator/console/publish", {"title": f"标题{n}", "content": f"<p>第{n}篇</p>"}
    )
    return str(data["platform_id"])


async def test_published_article_is_listed_under_its_platform_id_with_the_approved_text(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    assert isinstance(connector, Lister)
    ctx = await new_ctx(redis)
    post = make_post()
    await connector.publish(post, ctx)
    published = await connector.status(ctx)
    assert isinstance(published, Published)

    [item] = await connector.recent(ctx, since=time.time() - 60, limit=10)
    assert item.platform_id == published.platform_id  # the id the job holds
    assert item.url == published.url
    assert (item.title, item.text) == connector.expected(post)
    assert item.fingerprint == fingerprint(*connector.expected(post))
    assert item.text == "正文“引号”\n中段"
    fetched = await connector.fetch(ctx, published.platform_id)
    assert fetched is not None  # getarticle carries no times
    assert (fetched.platform_id, fetched.url, fetched.fingerprint) == (
        item.platform_id,
        item.url,
        item.fingerprint,
    )

    await emu_post(
        server,
        "/_emulator/console/edit",
        {"platform_id": published.platform_id, "content": "<p>正文“引号”</p><p>改过</p>"},
    )
    [edited] = await connector.recent(ctx, since=time.time() - 60, limit=10)
    assert edited.fingerprint != item.fingerprint and edited.text == "正文“引号”\n改过"
    assert edited.updated_at >= edited.published_at

    await emu_post(server, "/_emulator/console/delete", {"platform_id": published.platform_id})
    assert await connector.recent(ctx, since=time.time() - 60, limit=10) == []
    assert await connector.fetch(ctx, published.platform_id) is None
    assert await connector.fetch(ctx, "no-such-article") is None


async def test_pages_newest_first_and_stops_at_the_window(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    ids = [await _console(server, n) for n in range(45)]
    state = server.app[STATE_KEY]
    now = int(time.time())
    for age, article_id in enumerate(reversed(ids)):  # the newest is a minute old, and so on
        state.articles[article_id].create_time = now - 60 * (age + 1)

    recent = await connector.recent(ctx, since=now - 60 * 25 - 1, limit=100)
    assert [i.platform_id for i in recent] == list(reversed(ids))[:25]
    assert (await counters(server))["calls"]["freepublish/batchget"] == 2  # 20 + 20, stop

    assert len(await connector.recent(ctx, since=0, limit=100)) == 45  # 3 pages, to the end
    assert len(await connector.recent(ctx, since=0, limit=7)) == 7
    assert (await counters(server))["calls"]["freepublish/batchget"] == 2 + 3 + 1

    # an old article edited recently counts when its page is read
    state.articles[ids[20]].update_time = now
    recent = await connector.recent(ctx, since=now - 60 * 25 - 1, limit=100)
    assert ids[20] in [i.platform_id for i in recent]


@pytest.mark.parametrize(
    ("fault", "path"),
    [
        ({"status": 502}, "/cgi-bin/freepublish/batchget"),
        ({"hang": True}, "/cgi-bin/freepublish/batchget"),
        ({"status": 503}, "/cgi-bin/freepublish/getarticle"),
        ({"hang": True}, "/cgi-bin/freepublish/getarticle"),
    ],
)
async def test_faults_are_retry_later(
    session: aiohttp.ClientSession,
    server: TestServer,
    redis: aredis.Redis,
    fault: dict[str, Any],
    path: str,
) -> None:
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    article = await _console(server, 1)
    await emu_post(server, "/_emulator/faults", {"path": path, "times": 1, **fault})
    with pytest.raises(RetryLater):
        if path.endswith("batchget"):
            await connector.recent(ctx, since=0, limit=10)
        else:
            await connector.fetch(ctx, article)
    assert [i.platform_id for i in await connector.recent(ctx, since=0, limit=10)] == [article]


async def test_revoked_token_is_refreshed_during_a_listing(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    article = await _console(server, 1)
    assert len(await connector.recent(ctx, since=0, limit=10)) == 1
    before = (await counters(server))["token_fetches"]
    await emu_post(server, "/_emulator/revoke_tokens", {})
    assert [i.platform_id for i in await connector.recent(ctx, since=0, limit=10)] == [article]
    assert (await counters(server))["token_fetches"] == before + 1
    await emu_post(server, "/_emulator/revoke_tokens", {})
    assert (await connector.fetch(ctx, article)) is not None


async def test_wrong_secret_is_needs_reauthorisation(
    session: aiohttp.ClientSession, server: TestServer, redis: aredis.Redis
) -> None:
    connector = make_connector(session, server)
    ctx = await new_ctx(redis)
    ctx.secrets = {**ctx.secrets, "app_secret": "wrong-app-secret"}
    with pytest.raises(NeedsReauthorisation) as caught:
        await connector.recent(ctx, since=0, limit=10)
    assert APP_SECRET not in str(caught.value) and "wrong-app-secret" not in str(caught.value)
