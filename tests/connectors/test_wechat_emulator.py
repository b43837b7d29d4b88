"""The WeChat emulator's fidelity to reference/platforms.md §1 (tokens, errors, jobs, quotas)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.emulators.wechat import PUBLISH_ID_BASE, make_app

APP_ID, SECRET = "wx_emu_test", "emu-secret-value"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


class Clock:
    """A hand-moved clock for token expiry and job timing."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def _client(aiohttp_client: Any, **options: Any) -> TestClient[Any, Any]:
    options.setdefault("app_id_secrets", {APP_ID: SECRET})
    client: TestClient[Any, Any] = await aiohttp_client(make_app(**options))
    return client


async def _stable(client: TestClient[Any, Any], force: bool = False) -> dict[str, Any]:
    body = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    resp = await client.post("/cgi-bin/stable_token", json={**body, "force_refresh": force})
    assert resp.status == 200
    result: dict[str, Any] = await resp.json()
    return result


async def _api(client: TestClient[Any, Any], path: str, token: str, body: Any) -> dict[str, Any]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    resp = await client.post(f"/cgi-bin/{path}", params={"access_token": token}, data=raw)
    assert resp.status == 200  # errors too come back as HTTP 200
    result: dict[str, Any] = await resp.json()
    return result


async def _cover(client: TestClient[Any, Any], token: str) -> str:
    form = aiohttp.FormData()
    form.add_field("media", JPEG, filename="c.jpg", content_type="image/jpeg")
    resp = await client.post(
        "/cgi-bin/material/add_material", params={"access_token": token, "type": "image"}, data=form
    )
    body = await resp.json()
    assert body["url"].startswith("http://mmbiz.qpic.cn/")
    return str(body["media_id"])


async def test_stable_token_normal_mode_is_stable_and_force_rotates(
    aiohttp_client: Any, clock: Clock
) -> None:
    client = await _client(aiohttp_client, clock=clock, token_ttl_s=7200, grace_s=300)
    first = await _stable(client)
    assert first["expires_in"] == 7200
    clock.now_s += 100
    again = await _stable(client)
    assert again["access_token"] == first["access_token"]
    assert again["expires_in"] == 7100
    forced = await _stable(client, force=True)
    assert forced["access_token"] != first["access_token"]
    old = await _api(client, "draft/get", first["access_token"], {"media_id": "x"})
    assert old["errcode"] == 40001
    clock.now_s += 5  # < 30 s since the last force: "won't refresh"
    assert (await _stable(client, force=True))["access_token"] == forced["access_token"]


async def test_stable_token_renews_early_with_grace_then_expires(
    aiohttp_client: Any, clock: Clock
) -> None:
    client = await _client(aiohttp_client, clock=clock, token_ttl_s=1000, grace_s=300)
    old = (await _stable(client))["access_token"]
    clock.now_s += 750  # inside the last 5 minutes: renewed, the old one still works
    new = await _stable(client)
    assert new["access_token"] != old and new["expires_in"] == 1000
    assert (await _api(client, "draft/get", old, {"media_id": "x"}))["errcode"] == 40007
    clock.now_s += 300
    expired = await _api(client, "draft/get", old, {"media_id": "x"})
    assert expired["errcode"] == 42001
    assert " rid: " in expired["errmsg"]


async def test_legacy_token_invalidates_the_previous_after_grace(
    aiohttp_client: Any, clock: Clock
) -> None:
    client = await _client(aiohttp_client, clock=clock, grace_s=300)
    query = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    first = await (await client.get("/cgi-bin/token", params=query)).json()
    second = await (await client.get("/cgi-bin/token", params=query)).json()
    assert first["access_token"] != second["access_token"]
    assert (await _api(client, "draft/get", first["access_token"], {}))["errcode"] == 40007
    clock.now_s += 301
    assert (await _api(client, "draft/get", first["access_token"], {}))["errcode"] == 40001
    assert (await _api(client, "draft/get", second["access_token"], {}))["errcode"] == 40007
    wrong = await (await client.get("/cgi-bin/token", params={**query, "secret": "no"})).json()
    assert wrong["errcode"] == 40125
    assert "no" not in wrong["errmsg"].split(" rid:")[0].split()


@pytest.mark.parametrize(
    ("token", "code"), [("", 41001), ("garbage", 40014)], ids=["missing", "garbage"]
)
async def test_bad_tokens(aiohttp_client: Any, token: str, code: int) -> None:
    client = await _client(aiohttp_client)
    assert (await _api(client, "draft/add", token, {"articles": []}))["errcode"] == code


async def test_unicode_escapes_rejected_and_raw_utf8_kept(aiohttp_client: Any) -> None:
    client = await _client(aiohttp_client)
    token = (await _stable(client))["access_token"]
    thumb = await _cover(client, token)
    article = {"title": "标题", "content": "<p>正文</p>", "thumb_media_id": thumb}
    escaped = json.dumps({"articles": [article]}).encode()  # ensure_ascii=True
    resp = await client.post("/cgi-bin/draft/add", params={"access_token": token}, data=escaped)
    assert (await resp.json())["errcode"] == 40033
    ok = await _api(client, "draft/add", token, {"articles": [article]})
    assert ok["media_id"]
    got = await _api(client, "draft/get", token, {"media_id": ok["media_id"]})
    assert got["news_item"][0]["title"] == "标题"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [("title", "标" * 33, 45003), ("author", "作" * 17, 45110), ("digest", "摘" * 129, 45004),
     ("thumb_media_id", "not-permanent", 40007), ("content", "", 44003)],
)  # fmt: skip
async def test_draft_limits(aiohttp_client: Any, field: str, value: str, code: int) -> None:
    client = await _client(aiohttp_client)
    token = (await _stable(client))["access_token"]
    article = {"title": "t", "content": "<p>c</p>", "thumb_media_id": await _cover(client, token)}
    article[field] = value
    assert (await _api(client, "draft/add", token, {"articles": [article]}))["errcode"] == code


async def test_publish_job_moves_through_states(aiohttp_client: Any, clock: Clock) -> None:
    client = await _client(aiohttp_client, clock=clock, publish_delay_s=30)
    token = (await _stable(client))["access_token"]
    thumb = await _cover(client, token)
    content = '<p>x</p><img src="https://evil.example/x.png">'
    article = {"title": "t", "content": content, "thumb_media_id": thumb}
    draft = (await _api(client, "draft/add", token, {"articles": [article]}))["media_id"]
    resp = await client.post(
        "/cgi-bin/freepublish/submit",
        params={"access_token": token},
        data=json.dumps({"media_id": draft}),
    )
    raw = await resp.text()
    publish_id = json.loads(raw)["publish_id"]
    assert isinstance(publish_id, int) and publish_id > PUBLISH_ID_BASE > 2**31
    assert f'"publish_id": {publish_id}' in raw or f'"publish_id":{publish_id}' in raw
    job = await _api(client, "freepublish/get", token, {"publish_id": str(publish_id)})
    assert job["publish_status"] == 1
    clock.now_s += 31
    job = await _api(client, "freepublish/get", token, {"publish_id": str(publish_id)})
    assert job["publish_status"] == 0 and job["article_id"]
    assert job["article_detail"]["item"][0]["article_url"].startswith("https://mp.weixin.qq.com/")
    # the draft is consumed: a second submit fails
    again = await _api(client, "freepublish/submit", token, {"media_id": draft})
    assert again["errcode"] == 40007
    listing = await _api(client, "freepublish/batchget", token, {"offset": 0, "count": 20})
    assert listing["total_count"] == 1
    [news] = listing["item"][0]["content"]["news_item"]
    assert "evil.example" not in news["content"]  # external images are filtered out
    assert news["thumb_media_id"] == thumb
    article_id = job["article_id"]
    assert (await _api(client, "freepublish/getarticle", token, {"article_id": article_id}))[
        "news_item"
    ]
    assert (await _api(client, "freepublish/delete", token, {"article_id": article_id}))[
        "errcode"
    ] == 0
    job = await _api(client, "freepublish/get", token, {"publish_id": str(publish_id)})
    assert job["publish_status"] == 5


async def test_quotas_ip_whitelist_and_counters(aiohttp_client: Any) -> None:
    client = await _client(aiohttp_client, daily_quotas={"freepublish/get": 2}, minute_quota=None)
    token = (await _stable(client))["access_token"]
    codes = [
        (await _api(client, "freepublish/get", token, {"publish_id": "1"}))["errcode"]
        for _ in range(3)
    ]
    assert codes == [40007, 40007, 45009]
    counters = await (await client.get("/_emulator/counters")).json()
    assert counters["calls"]["freepublish/get"] == 3 and counters["token_fetches"] == 1

    limited = await _client(aiohttp_client, minute_quota=1)
    await _stable(limited)
    assert (await _stable(limited))["errcode"] == 45011

    walled = await _client(aiohttp_client, ip_whitelist={"10.1.2.3"})
    body = await _stable(walled)
    assert body["errcode"] == 40164
    assert "not in whitelist rid: " in body["errmsg"]


async def test_control_routes(aiohttp_client: Any) -> None:
    client = await _client(aiohttp_client)
    token = (await _stable(client))["access_token"]
    resp = await client.post("/_emulator/revoke_tokens", json={})
    assert (await resp.json())["revoked"] == 1
    assert (await _api(client, "draft/get", token, {}))["errcode"] == 40001
    assert (await _stable(client))["access_token"] != token
    resp = await client.post("/_emulator/config", json={"publish_delay_s": 2.5})
    assert (await resp.json())["publish_delay_s"] == 2.5
    resp = await client.post("/_emulator/config", json={"nope": 1})
    assert resp.status == 400
    assert await (await client.get("/_emulator/items")).json() == []


async def test_publishjobfinish_pushed_to_callback(
    aiohttp_client: Any, aiohttp_server: Any
) -> None:
    received: list[str] = []

    async def callback(request: web.Request) -> web.Response:
        received.append(await request.text())
        return web.Response(text="success")

    sink = web.Application()
    sink.router.add_post("/wechat/callback", callback)
    sink_server = await aiohttp_server(sink)
    client = await _client(
        aiohttp_client,
        publish_delay_s=0.1,
        callback_url=str(sink_server.make_url("/wechat/callback")),
    )
    token = (await _stable(client))["access_token"]
    article = {"title": "t", "content": "<p>c</p>", "thumb_media_id": await _cover(client, token)}
    draft = (await _api(client, "draft/add", token, {"articles": [article]}))["media_id"]
    publish_id = (await _api(client, "freepublish/submit", token, {"media_id": draft}))[
        "publish_id"
    ]
    for _ in range(40):  # the job finishes on its own; no poll needed
        if received:
            break
        await asyncio.sleep(0.05)
    [xml] = received
    assert "<Event><![CDATA[PUBLISHJOBFINISH]]></Event>" in xml
    assert f"<publish_id>{publish_id}</publish_id>" in xml
    assert "<publish_status>0</publish_status>" in xml
    assert "<article_url><![CDATA[https://mp.weixin.qq.com/s/" in xml
