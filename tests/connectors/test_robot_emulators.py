"""The WeCom and DingTalk robot emulators answer like the robots: errcodes for each refusal."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from connectors.emulators import dingtalk_robot, wecom_robot

KEY = "k1"
TOKEN, SECRET = "t1", "SECs1"


@pytest.mark.parametrize(
    ("key", "body", "errcode"),
    [
        (KEY, {"msgtype": "markdown", "markdown": {"content": "**hi** 你好"}}, 0),
        (KEY, {"msgtype": "text", "text": {"content": "你好"}}, 0),
        ("other", {"msgtype": "markdown", "markdown": {"content": "x"}}, 93000),
        (KEY, {"msgtype": "voice", "voice": {}}, 40008),
        (KEY, {"msgtype": "markdown", "markdown": {}}, 44004),
        (KEY, {"msgtype": "markdown", "markdown": {"content": "长" * 1366}}, 40058),
        (KEY, {"msgtype": "text", "text": {"content": "长" * 683}}, 40058),
        (KEY, ["not", "an", "object"], 40001),
    ],
)
async def test_wecom_robot_errcodes(aiohttp_client: Any, key: str, body: Any, errcode: int) -> None:
    client = await aiohttp_client(wecom_robot.make_app(keys=(KEY,)))
    resp = await client.post(f"/cgi-bin/webhook/send?key={key}", json=body)
    assert resp.status == 200
    assert (await resp.json())["errcode"] == errcode
    items = (await (await client.get("/_emulator/messages")).json())["items"]
    assert len(items) == (1 if errcode == 0 else 0)


async def test_wecom_robot_rate_limit_and_forget(aiohttp_client: Any) -> None:
    client = await aiohttp_client(wecom_robot.make_app(keys=(KEY,), per_minute=2))
    body = {"msgtype": "markdown", "markdown": {"content": "x"}}
    codes = [
        (await (await client.post(f"/cgi-bin/webhook/send?key={KEY}", json=body)).json())["errcode"]
        for _ in range(3)
    ]
    assert codes == [0, 0, 45009]
    assert (await client.delete("/_emulator/messages")).status == 204
    assert (await (await client.get("/_emulator/messages")).json())["items"] == []


def _query(token: str = TOKEN, secret: str = SECRET, ts_ms: int | None = None) -> str:
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    sign = dingtalk_robot.expected_sign(secret, ts)
    return f"access_token={token}&timestamp={ts}&sign={quote(sign, safe='')}"


MARKDOWN = {"msgtype": "markdown", "markdown": {"title": "标题", "text": "### 正文"}}


@pytest.mark.parametrize(
    ("query", "body", "errcode"),
    [
        (_query, MARKDOWN, 0),
        (lambda: _query(token="nope"), MARKDOWN, 300001),
        (lambda: _query(secret="SECwrong"), MARKDOWN, 310000),
        (lambda: _query(ts_ms=int(time.time() * 1000) - 2 * 3600 * 1000), MARKDOWN, 310000),
        (lambda: f"access_token={TOKEN}", MARKDOWN, 310000),
        (_query, {"msgtype": "markdown", "markdown": {"title": "无正文"}}, 40035),
        (_query, {"msgtype": "text", "text": {"content": "你好"}}, 0),
        (_query, {"msgtype": "voice"}, 40035),
    ],
)
async def test_dingtalk_robot_errcodes(
    aiohttp_client: Any, query: Any, body: Any, errcode: int
) -> None:
    client = await aiohttp_client(dingtalk_robot.make_app(tokens={TOKEN: SECRET}))
    resp = await client.post(f"/robot/send?{query()}", json=body)
    assert resp.status == 200
    assert (await resp.json())["errcode"] == errcode


async def test_dingtalk_robot_rate_limit(aiohttp_client: Any) -> None:
    client = await aiohttp_client(dingtalk_robot.make_app(tokens={TOKEN: SECRET}, per_minute=1))
    first = await (await client.post(f"/robot/send?{_query()}", json=MARKDOWN)).json()
    second = await (await client.post(f"/robot/send?{_query()}", json=MARKDOWN)).json()
    assert (first["errcode"], second["errcode"]) == (0, 130101)
    items = (await (await client.get("/_emulator/messages")).json())["items"]
    assert [(i["title"], i["text"]) for i in items] == [("标题", "### 正文")]
