"""Fidelity of the Weibo emulator to reference/platforms.md §2, spoken to over plain HTTP."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connectors.emulators.weibo import make_app

TOKEN = "tok-emulator-1"
LINK = "https://www.example.com/a"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def start(aiohttp_server: Any, **options: Any) -> TestServer:
    options.setdefault("tokens", {TOKEN: "1404376560"})
    return await aiohttp_server(make_app(**options))


async def share(
    session: aiohttp.ClientSession, server: TestServer, status: str, **extra: Any
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    fields = {"access_token": TOKEN, "status": status, "rip": "211.156.0.1", **extra}
    for name, value in fields.items():
        if isinstance(value, tuple):
            data = io.BytesIO(value[0])  # raw bytes this large would warn
            form.add_field(name, data, filename="p.jpg", content_type=value[1])
        elif value is not None:
            form.add_field(name, value)
    async with session.post(server.make_url("/2/statuses/share.json"), data=form) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def server(aiohttp_server: Any) -> TestServer:
    return await start(aiohttp_server)


async def test_success_returns_idstr_above_2_53(server: TestServer, session: Any) -> None:
    status, body = await share(session, server, f"你好 {LINK}")
    assert status == 200 and body["idstr"] == str(body["id"]) and body["id"] > 2**53
    assert body["text"] == f"你好 {LINK}" and body["user"]["idstr"] == "1404376560"


@pytest.mark.parametrize(
    ("status_text", "extra", "code"),
    [
        ("没有链接", {}, 10017),
        ("别的域名 https://evil.test/x", {}, 10017),
        ("假的 https://example.com.evil.test/x", {}, 10017),
        (f"参与#话题#讨论 {LINK}", {}, 10017),
        (f"缺少 rip {LINK}", {"rip": None}, 10016),
        ("", {}, 20008),
        ("字" * 141 + f" {LINK}", {}, 20012),
        (f"图片类型 {LINK}", {"pic": (b"<svg/>", "image/svg+xml")}, 20005),
        (f"图片太大 {LINK}", {"pic": (b"\0" * (5 * 1024 * 1024), "image/jpeg")}, 20006),
    ],
)
async def test_rules_and_error_envelope(
    server: TestServer, session: Any, status_text: str, extra: dict[str, Any], code: int
) -> None:
    status, body = await share(session, server, status_text, **extra)
    assert status >= 400
    assert set(body) == {"error", "error_code", "request"}
    assert body["error_code"] == code and isinstance(body["error_code"], int)
    assert body["request"] == "/2/statuses/share.json"


async def test_half_width_counts_half(server: TestServer, session: Any) -> None:
    # 140 Weibo characters: 100 CJK + 80 half-width (= 40)
    text = "字" * 100 + "a" * (80 - len(LINK) - 1) + " " + LINK
    status, _ = await share(session, server, text)
    assert status == 200


async def test_long_text_mode(aiohttp_server: Any, session: Any) -> None:
    server = await start(aiohttp_server, max_chars=2000)
    status, _ = await share(session, server, "字" * 500 + f" {LINK}")
    assert status == 200


async def test_repeat_and_similar_content(server: TestServer, session: Any) -> None:
    assert (await share(session, server, f"第一条 {LINK}"))[0] == 200
    assert (await share(session, server, f"第一条 {LINK}"))[1]["error_code"] == 20019
    assert (await share(session, server, f"第一条！ {LINK}"))[1]["error_code"] == 20017


async def test_rate_limits(aiohttp_server: Any, session: Any) -> None:
    server = await start(aiohttp_server, posts_per_hour=2, calls_per_hour=4)
    assert (await share(session, server, f"一 {LINK}"))[0] == 200
    assert (await share(session, server, f"二 {LINK}"))[0] == 200
    assert (await share(session, server, f"三 {LINK}"))[1]["error_code"] == 10024
    assert (await share(session, server, f"四 {LINK}"))[1]["error_code"] == 10024
    assert (await share(session, server, f"五 {LINK}"))[1]["error_code"] == 10023


async def test_ip_rate_limit(aiohttp_server: Any, session: Any) -> None:
    server = await start(aiohttp_server, ip_calls_per_hour=1)
    assert (await share(session, server, f"一 {LINK}"))[0] == 200
    assert (await share(session, server, f"二 {LINK}"))[1]["error_code"] == 10022


async def test_tokens(aiohttp_server: Any, session: Any) -> None:
    server = await start(aiohttp_server, token_ttl_s=-1)
    assert (await share(session, server, f"过期 {LINK}"))[1]["error_code"] == 21327
    server = await start(aiohttp_server, tokens={"other": "1"})
    assert (await share(session, server, f"未知 {LINK}"))[1]["error_code"] == 21332
    server = await start(aiohttp_server)
    async with session.post(server.make_url("/_emulator/revoke"), json={"code": 21315}):
        pass
    assert (await share(session, server, f"吊销 {LINK}"))[1]["error_code"] == 21315


async def test_injected_20032_creates_the_status(server: TestServer, session: Any) -> None:
    async with session.post(server.make_url("/_emulator/errors"), json={"code": 20032}):
        pass
    _, body = await share(session, server, f"慢 {LINK}")
    assert body["error_code"] == 20032
    async with session.get(server.make_url("/_emulator/items")) as resp:
        assert len(await resp.json()) == 1


async def test_show_timeline_destroy_and_header_token(server: TestServer, session: Any) -> None:
    ids = [(await share(session, server, f"第{i}条 {LINK}"))[1]["idstr"] for i in range(3)]
    auth = {"Authorization": f"OAuth2 {TOKEN}"}
    url = server.make_url("/2/statuses/user_timeline.json")
    async with session.get(url, params={"count": "2"}, headers=auth) as resp:
        body = await resp.json()
    assert [s["idstr"] for s in body["statuses"]] == [ids[2], ids[1]] and body["total_number"] == 3
    async with session.get(url, params={"count": "2", "page": "2"}, headers=auth) as resp:
        assert [s["idstr"] for s in (await resp.json())["statuses"]] == [ids[0]]
    show = server.make_url("/2/statuses/show.json")
    async with session.get(show, params={"id": ids[1], "access_token": TOKEN}) as resp:
        assert (await resp.json())["idstr"] == ids[1]
    destroy = server.make_url("/2/statuses/destroy.json")
    async with session.post(destroy, data={"access_token": TOKEN, "id": ids[1]}) as resp:
        assert resp.status == 200
    async with session.post(destroy, data={"access_token": TOKEN, "id": ids[1]}) as resp:
        assert (await resp.json())["error_code"] == 20101
    async with session.get(show, params={"id": ids[1]}, headers=auth) as resp:
        assert (await resp.json())["error_code"] == 20101
    async with session.get(server.make_url("/_emulator/counters")) as resp:
        counters = await resp.json()
    assert counters["share"] == 3 and counters["created"] == 3 and counters["destroyed"] == 1


async def test_token_info_uses_expire_in(server: TestServer, session: Any) -> None:
    async with session.post(
        server.make_url("/oauth2/get_token_info"), data={"access_token": TOKEN}
    ) as resp:
        body = await resp.json()
    assert body["uid"] == "1404376560" and "expire_in" in body
