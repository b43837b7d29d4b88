"""The emulators' comment, reply and repost calls (docs/interactions.md), over plain HTTP.

Each platform's rules a gateway trips over: Weibo's 140 characters and its repeat refusal,
WeChat's one reply per comment, unknown comments and closed articles, WordPress's duplicate
comment 409 and comments closed on a post; and every created item read back through the
platform's own listing call.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connectors.emulators import wechat, weibo, wordpress

TOKEN = "tok-comments"
RIP = "211.156.0.1"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _form(s: aiohttp.ClientSession, url: str, **fields: str) -> dict[str, Any]:
    async with s.post(url, data={"access_token": TOKEN, "rip": RIP, **fields}) as r:
        return dict(await r.json())


async def test_weibo_comments_reply_and_repost(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    server: TestServer = await aiohttp_server(weibo.make_app(tokens={TOKEN: "1404376560"}))
    base = str(server.make_url("")).rstrip("/")
    status = await _form(
        session, base + "/2/statuses/share.json", status="新品 https://example.com/1"
    )
    sid = status["idstr"]
    cases = [
        ({"id": sid, "comment": "长" * 141}, 20012),  # Weibo counting: 141 full-width > 140
        ({"id": sid, "comment": "a" * 280}, None),  # 280 half-width count as 140
        ({"id": sid, "comment": "好评"}, None),
        ({"id": sid, "comment": "好评"}, 20019),  # the same text again on the same status
        ({"id": "999", "comment": "找不到"}, 20101),
        ({"id": sid, "comment": " "}, 10016),
    ]
    for fields, code in cases:
        body = await _form(session, base + "/2/comments/create.json", **fields)
        assert body.get("error_code") == code, (fields, body)
    comment = next(
        c
        for c in (await (await session.get(base + "/_emulator/comments")).json())["comments"]
        if c["text"] == "好评"
    )
    reply = await _form(
        session,
        base + "/2/comments/reply.json",
        id=sid,
        cid=comment["idstr"],
        comment="谢谢",
        without_mention="1",
    )
    assert reply["text"] == "谢谢" and reply["reply_comment"]["idstr"] == comment["idstr"]
    mention = await _form(
        session, base + "/2/comments/reply.json", id=sid, cid=comment["idstr"], comment="再谢"
    )
    assert mention["text"].startswith("回复@")
    missing = await _form(session, base + "/2/comments/reply.json", id=sid, cid="1", comment="x")
    assert missing["error_code"] == 20109
    async with session.get(
        base + "/2/comments/by_me.json", headers={"Authorization": f"OAuth2 {TOKEN}"}
    ) as r:
        mine = await r.json()
    assert [c["text"] for c in mine["comments"]][:2] == [mention["text"], "谢谢"]
    repost = await _form(session, base + "/2/statuses/repost.json", id=sid, status="转发")
    assert repost["retweeted_status"]["idstr"] == sid
    again = await _form(session, base + "/2/statuses/repost.json", id=sid, status="转发")
    assert again["error_code"] == 20019
    async with session.get(
        base + "/2/statuses/repost_timeline.json",
        params={"id": sid},
        headers={"Authorization": f"OAuth2 {TOKEN}"},
    ) as r:
        listed = await r.json()
    assert [s["idstr"] for s in listed["reposts"]] == [repost["idstr"]]


async def test_wechat_comment_management(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    server: TestServer = await aiohttp_server(wechat.make_app(app_id_secrets={"wx1": "s1"}))
    base = str(server.make_url("")).rstrip("/")
    async with session.post(
        base + "/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": "wx1", "secret": "s1"},
    ) as r:
        token = (await r.json())["access_token"]

    async def api(endpoint: str, **body: Any) -> dict[str, Any]:
        raw = json.dumps(body, ensure_ascii=False).encode()  # WeChat refuses \uXXXX (40033)
        async with session.post(
            f"{base}/cgi-bin/{endpoint}", params={"access_token": token}, data=raw
        ) as r:
            return dict(await r.json())

    async def control(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with session.post(base + path, json=body) as r:
            return dict(await r.json())

    msg = (await control("/_emulator/comments/article", {"open": False}))["msg_data_id"]
    cid = (await control("/_emulator/comments/user", {"msg_data_id": msg, "content": "问"}))[
        "user_comment_id"
    ]
    reply = {"msg_data_id": msg, "index": 0, "user_comment_id": cid, "content": "答"}
    assert (await api("comment/reply/add", **reply))["errcode"] == 88000  # comments closed
    assert (await api("comment/open", msg_data_id=msg))["errcode"] == 0
    cases = [
        ({**reply, "msg_data_id": 1}, 88001),
        ({**reply, "user_comment_id": 424242}, 88008),
        ({**reply, "content": ""}, 88007),
        ({**reply, "content": "长" * 601}, 88007),
        (reply, 0),
        ({**reply, "content": "再答"}, 88005),  # one reply per comment
    ]
    for body, code in cases:
        assert (await api("comment/reply/add", **body))["errcode"] == code, body
    listed = await api("comment/list", msg_data_id=msg, index=0, begin=0, count=49, type=0)
    assert listed["total"] == 1 and listed["comment"][0]["reply"]["content"] == "答"
    too_many = await api("comment/list", msg_data_id=msg, begin=0, count=50, type=0)
    assert too_many["errcode"] == 88010
    assert (await api("comment/close", msg_data_id=msg))["errcode"] == 0


async def test_wordpress_comments(aiohttp_server: Any, session: aiohttp.ClientSession) -> None:
    server: TestServer = await aiohttp_server(wordpress.make_app(users={"ed": ["pw pw"]}))
    base = str(server.make_url("")).rstrip("/") + "/wp-json/wp/v2"
    auth = {"Authorization": "Basic " + base64.b64encode(b"ed:pwpw").decode()}

    async def post(path: str, body: dict[str, Any], headers: dict[str, str] = auth) -> Any:
        async with session.post(base + path, json=body, headers=headers) as r:
            return r.status, await r.json()

    _, created = await post("/posts", {"title": "T", "content": "C", "status": "publish"})
    _, draft = await post("/posts", {"title": "D", "content": "C"})
    pid = created["id"]
    cases = [
        ({"post": pid, "content": "好"}, {}, 401, "rest_comment_login_required"),
        ({"post": 999, "content": "好"}, auth, 403, "rest_comment_invalid_post_id"),
        ({"post": draft["id"], "content": "好"}, auth, 403, "rest_comment_draft_post"),
        ({"post": pid, "content": " "}, auth, 400, "rest_comment_content_invalid"),
        ({"post": pid, "parent": 77, "content": "好"}, auth, 400, "rest_comment_invalid_parent"),
        ({"post": pid, "content": "好"}, auth, 201, None),
        ({"post": pid, "content": "好"}, auth, 409, "comment_duplicate"),
    ]
    for body, headers, status, code in cases:
        got, answer = await post("/comments", body, headers)
        assert (got, answer.get("code")) == (status, code), (body, answer)
    async with session.get(base + "/comments", params={"post": str(pid), "author": "1"}) as r:
        listed = await r.json()
        assert r.headers["X-WP-Total"] == "1"
    assert listed[0]["content"]["raw"] == "好" and listed[0]["parent"] == 0
    got, reply = await post("/comments", {"post": pid, "parent": listed[0]["id"], "content": "回"})
    assert got == 201 and reply["parent"] == listed[0]["id"]
    async with session.post(
        str(server.make_url("/_emulator/comments/status")), json={"post": pid, "status": "closed"}
    ) as r:
        assert r.status == 200
    got, closed = await post("/comments", {"post": pid, "content": "关了"})
    assert (got, closed["code"]) == (403, "rest_comment_closed")
