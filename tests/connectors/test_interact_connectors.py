"""The connectors' ``interact`` against the emulators: resumed jobs reconcile, never repeat.

A job can die between the platform call and the checkpoint of its result: the next worker
finds only the intent. Table-driven per platform: such a resume must find the comment through
the platform's listing and create nothing; an intent with nothing on the platform must wait out
the grace (Weibo, WordPress) and then create exactly one; an unreadable listing is Unconfirmed.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from connectors.base import AccountRef, Interaction, Unconfirmed
from connectors.emulators import wechat, weibo, wordpress
from connectors.testing import MemoryContext
from connectors.wechat import WeChatConnector
from connectors.weibo import WeiboConnector
from connectors.wordpress import WordPressConnector

TOKEN = "tok-interact"
WP_AUTH = {"Authorization": "Basic " + base64.b64encode(b"ed:pwpw").decode()}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@dataclass
class Rig:
    base: str
    make: Callable[[float], Any]  # grace_s -> connector
    account: AccountRef
    secrets: dict[str, str]
    interaction: Interaction
    count: Callable[[], Awaitable[int]]
    intent: dict[str, Any]  # the checkpoint a crashed job leaves behind
    listing: str  # the request the reconciliation reads


async def _weibo(aiohttp_server: Any, s: aiohttp.ClientSession) -> Rig:
    server = await aiohttp_server(weibo.make_app(tokens={TOKEN: "1404376560"}))
    base = str(server.make_url("")).rstrip("/")
    form = {"access_token": TOKEN, "status": "原文 https://example.com/1", "rip": "1.2.3.4"}
    async with s.post(base + "/2/statuses/share.json", data=form) as r:
        sid = (await r.json())["idstr"]

    async def count() -> int:
        async with s.get(base + "/_emulator/comments") as r:
            return len((await r.json())["comments"])

    return Rig(
        base,
        lambda grace: WeiboConnector(session=s, base_url=base, resend_grace_s=grace),
        AccountRef("w", "weibo", "w", {"rip": "1.2.3.4"}),
        {"access_token": TOKEN},
        Interaction("comment", "好消息！", "h", platform_id=sid),
        count,
        {"weibo_ix_sending": time.time()},
        "/2/comments/by_me.json",
    )


async def _wordpress(aiohttp_server: Any, s: aiohttp.ClientSession) -> Rig:
    server = await aiohttp_server(wordpress.make_app(users={"ed": ["pw pw"]}))
    base = str(server.make_url("")).rstrip("/")
    body = {"title": "T", "content": "C", "status": "publish"}
    async with s.post(base + "/wp-json/wp/v2/posts", json=body, headers=WP_AUTH) as r:
        pid = str((await r.json())["id"])

    async def count() -> int:
        async with s.get(base + "/_emulator/comments") as r:
            return len(await r.json())

    return Rig(
        base,
        lambda grace: WordPressConnector(session=s, base_url=base, reconcile_grace_s=grace),
        AccountRef("p", "wordpress", "p", {"base_url": base}),
        {"username": "ed", "app_password": "pw pw"},
        Interaction("comment", "好消息！", "h", platform_id=pid),
        count,
        {"wp_ix_creating": time.time()},
        "/wp-json/wp/v2/comments",
    )


async def _wechat(aiohttp_server: Any, s: aiohttp.ClientSession) -> Rig:
    server = await aiohttp_server(wechat.make_app(app_id_secrets={"wx1": "s1"}))
    base = str(server.make_url("")).rstrip("/")
    async with s.post(base + "/_emulator/comments/article", json={"open": True}) as r:
        msg = str((await r.json())["msg_data_id"])
    async with s.post(
        base + "/_emulator/comments/user", json={"msg_data_id": msg, "content": "问"}
    ) as r:
        cid = str((await r.json())["user_comment_id"])

    async def count() -> int:
        async with s.get(base + "/_emulator/comments") as r:
            data = await r.json()
        return sum("reply" in c for m in data for a in m["articles"] for c in a["comments"])

    return Rig(
        base,
        lambda grace: WeChatConnector(session=s, base_url=base),
        AccountRef("x", "wechat", "x", {}),
        {"app_id": "wx1", "app_secret": "s1"},
        Interaction("reply", "好消息！", "h", comment_id=cid, msg_data_id=msg),
        count,
        {"wechat_ix_replying": True},
        "/cgi-bin/comment/list",
    )


RIGS = {"weibo": _weibo, "wordpress": _wordpress, "wechat": _wechat}


@pytest.mark.parametrize("platform", RIGS)
async def test_resume_after_a_crash_finds_the_comment_and_sends_nothing(
    aiohttp_server: Any, session: aiohttp.ClientSession, platform: str
) -> None:
    rig = await RIGS[platform](aiohttp_server, session)
    first = await rig.make(300.0).interact(rig.interaction, MemoryContext(rig.account, rig.secrets))
    assert await rig.count() == 1
    # the next worker sees only the intent: the result's checkpoint was never written
    resumed = MemoryContext(rig.account, rig.secrets, state=dict(rig.intent))
    again = await rig.make(0.0).interact(rig.interaction, resumed)
    assert again.platform_id == first.platform_id
    assert await rig.count() == 1


@pytest.mark.parametrize("platform", RIGS)
async def test_an_intent_with_nothing_on_the_platform(
    aiohttp_server: Any, session: aiohttp.ClientSession, platform: str
) -> None:
    rig = await RIGS[platform](aiohttp_server, session)
    if platform != "wechat":  # WeChat: one reply per comment, so a resend is always safe
        early = MemoryContext(rig.account, rig.secrets, state=dict(rig.intent))
        with pytest.raises(Unconfirmed):
            await rig.make(300.0).interact(rig.interaction, early)
        assert await rig.count() == 0
    late = MemoryContext(rig.account, rig.secrets, state=dict(rig.intent))
    await rig.make(0.0).interact(rig.interaction, late)
    assert await rig.count() == 1


@pytest.mark.parametrize("platform", ["weibo", "wordpress"])
async def test_an_unreadable_listing_is_unconfirmed(
    aiohttp_server: Any, session: aiohttp.ClientSession, platform: str
) -> None:
    rig = await RIGS[platform](aiohttp_server, session)
    fault = {"path": rig.listing, "status": 500}
    async with session.post(rig.base + "/_emulator/faults", data=json.dumps(fault)) as r:
        assert r.status == 201
    resumed = MemoryContext(rig.account, rig.secrets, state=dict(rig.intent))
    with pytest.raises(Unconfirmed):
        await rig.make(0.0).interact(rig.interaction, resumed)
    assert await rig.count() == 0


@pytest.mark.parametrize("kind", ["reply", "repost"])
async def test_weibo_reply_and_repost_resume_through_their_listings(
    aiohttp_server: Any, session: aiohttp.ClientSession, kind: str
) -> None:
    """A reply is found in ``comments/by_me`` under its parent, a repost in the target's
    ``statuses/repost_timeline``: a resumed job sends neither again."""
    rig = await _weibo(aiohttp_server, session)
    sid = rig.interaction.platform_id
    comment = ""
    if kind == "reply":
        parent = await rig.make(300.0).interact(
            rig.interaction, MemoryContext(rig.account, rig.secrets)
        )
        comment = parent.platform_id
    ix = Interaction(kind, "回复与转发", "h", platform_id=sid, comment_id=comment)
    first = await rig.make(300.0).interact(ix, MemoryContext(rig.account, rig.secrets))
    resumed = MemoryContext(rig.account, rig.secrets, state=dict(rig.intent))
    again = await rig.make(0.0).interact(ix, resumed)
    assert again.platform_id == first.platform_id
    async with session.get(rig.base + "/_emulator/comments") as r:
        held = await r.json()
    made = (
        held["reposts"]
        if kind == "repost"
        else [c for c in held["comments"] if c.get("reply_comment")]
    )
    assert len(made) == 1 and made[0]["text"] == "回复与转发", held
