"""The proxy test rig: the real gateway (delivery workers on) publishing to the WeChat emulator,
with a proxy client per tool and helpers that speak WeChat's API shapes and the desk's."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis

from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.delivery.conftest import (  # noqa: F401 - fixtures
    Emulators,
    Gateway,
    control,
    delivery_settings,
    emulator_servers,
    emulators,
    runtime,
    session,
    start_gateway,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 64
PLAIN = "华东分公司举办员工运动会，大家热情高涨。"
APPROVERS = ("unit_head", "brand_pr", "leader")


def principal_id(key: str) -> str:
    return key.split("_")[1]  # mg_<id>_<secret>


@dataclass
class ProxyClient:
    appid: str
    secret: str


@dataclass
class Proxy:
    gw: Gateway

    @property
    def base(self) -> str:
        return self.gw.api.base_url + "/proxy/wechat/cgi-bin/"

    @property
    def session(self) -> aiohttp.ClientSession:
        return self.gw.api.session

    async def create_client(
        self, who: str = "editor", accounts: tuple[str, ...] = ("east-wechat",), name: str = "tool"
    ) -> ProxyClient:
        body = {"name": name, "principal": principal_id(self.gw.api.keys[who]),
                "accounts": list(accounts)}  # fmt: skip
        status, data = await self.gw.api.call("POST", "/admin/proxy/clients", "admin", body)
        assert status == 201, data
        return ProxyClient(data["appid"], data["secret"])

    async def token(self, client: ProxyClient, secret: str = "") -> dict[str, Any]:
        params = {"grant_type": "client_credential", "appid": client.appid,
                  "secret": secret or client.secret}  # fmt: skip
        async with self.session.get(self.base + "token", params=params) as r:
            assert r.status == 200
            data: dict[str, Any] = await r.json()
            return data

    async def call(
        self, api: str, token: str, body: Any = None, *, query: dict[str, str] | None = None,
        form: aiohttp.FormData | None = None, status: int = 200,
    ) -> dict[str, Any]:  # fmt: skip
        params = {"access_token": token, **(query or {})} if token else dict(query or {})
        kw: dict[str, Any] = {"data": form} if form is not None else {"json": body or {}}
        async with self.session.post(self.base + api, params=params, **kw) as r:
            assert r.status == status, await r.text()
            assert r.content_type == "application/json"
            data: dict[str, Any] = await r.json()
            return data

    async def upload(self, api: str, token: str, data: bytes, **query: str) -> dict[str, Any]:
        form = aiohttp.FormData()
        form.add_field("media", data, filename="a.jpg", content_type="image/jpeg")
        return await self.call(api, token, query=query, form=form)

    async def draft(self, token: str, title: str, text: str = PLAIN) -> dict[str, Any]:
        cover = await self.upload("material/add_material", token, JPEG, type="image")
        url = (await self.upload("media/uploadimg", token, PNG))["url"]
        article = {"title": title, "author": "华东宣传组", "digest": "要闻",
                   "content": f"<p>{text}</p><img src=\"{url}\">",
                   "thumb_media_id": cover["media_id"]}  # fmt: skip
        return await self.call("draft/add", token, {"articles": [article]})

    async def inbox_item(self, who: str, title: str) -> dict[str, Any] | None:
        status, data = await self.gw.api.call("GET", "/v1/inbox", who)
        assert status == 200, data
        return next((i for i in data["items"] if i["title"] == title), None)

    async def approve_all(self, title: str, timeout_s: float = 10.0) -> list[str]:
        """Every approver whose inbox holds ``title`` approves it, until none does."""
        who_approved: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pending = [(w, await self.inbox_item(w, title)) for w in APPROVERS]
            found = [(w, item) for w, item in pending if item is not None]
            if not found:
                return who_approved
            for who, item in found:
                path = f"/v1/submissions/{item['id']}/decisions"
                status, data = await self.gw.api.call("POST", path, who, {"decision": "approve"})
                assert status == 200, data
                who_approved.append(who)
        raise AssertionError(f"{title} still in inboxes")

    async def wait_status(
        self, token: str, publish_id: int, wanted: int, timeout_s: float = 30.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            got = await self.call("freepublish/get", token, {"publish_id": str(publish_id)})
            if got.get("publish_status") == wanted or time.monotonic() > deadline:
                assert got.get("publish_status") == wanted, got
                return got
            await asyncio.sleep(0.2)


def proxy_settings(emus: Emulators, **changes: Any) -> Settings:
    base = delivery_settings(emus)
    return dataclasses.replace(base, proxy=dataclasses.replace(base.proxy, **changes))


@pytest.fixture
async def proxy(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,  # noqa: F811
    emulators: Emulators,  # noqa: F811
    session: aiohttp.ClientSession,  # noqa: F811
) -> Proxy:
    settings = proxy_settings(emulators)
    return Proxy(await start_gateway(aiohttp_server, redis, runtime, emulators, session, settings))


__all__ = ["Proxy", "control", "proxy_settings"]
