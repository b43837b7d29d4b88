"""Cross-check the WeChat emulator with wechatpy, a real SDK nobody here wrote.

wechatpy hard-codes ``https://api.weixin.qq.com``; a requests transport adapter mounted on its
HTTP session rewrites that host to the loopback emulator, so wechatpy's own request building
(query token, multipart field ``media``, ``ensure_ascii=False`` JSON) and its own response
handling (errcode envelope, 40001 auto-retry) run unchanged. wechatpy is synchronous: it runs
in a worker thread while the emulator serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestServer
from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from connectors.emulators.wechat import STATE_KEY, make_app

APP_ID, SECRET = "wx_wechatpy_test", "wechatpy-secret"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
REAL_HOST = "https://api.weixin.qq.com"


class _ToEmulator(HTTPAdapter):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert request.url is not None and request.url.startswith(REAL_HOST)
        request.url = self.base_url + request.url[len(REAL_HOST) :]
        return super().send(request, **kwargs)


def _client(server: TestServer, secret: str = SECRET) -> WeChatClient:
    client = WeChatClient(APP_ID, secret, timeout=5)
    client._http.mount(REAL_HOST, _ToEmulator(str(server.make_url(""))))
    return client


@pytest.fixture
async def server(aiohttp_server: Any) -> TestServer:
    srv: TestServer = await aiohttp_server(make_app(app_id_secrets={APP_ID: SECRET}))
    return srv


def _publish_with_wechatpy(client: WeChatClient) -> dict[str, Any]:
    token = client.access_token
    cover = client.material.add("image", io.BytesIO(JPEG))
    url = client.media.upload_image(("a.jpg", io.BytesIO(JPEG), "image/jpeg"))
    article = {
        "title": "wechatpy 发布",
        "content": f'<p>中文正文</p><img src="{url}">',
        "thumb_media_id": cover["media_id"],
    }
    draft = client.post("draft/add", data={"articles": [article]})
    submitted = client.post("freepublish/submit", data={"media_id": draft["media_id"]})
    job = client.post("freepublish/get", data={"publish_id": str(submitted["publish_id"])})
    return {"token": token, "cover": cover, "url": url, "submitted": submitted, "job": job}


async def test_wechatpy_token_material_upload_and_publish(server: TestServer) -> None:
    result = await asyncio.to_thread(_publish_with_wechatpy, _client(server))
    assert result["token"].startswith("EMU_LEGACY_")
    assert result["cover"]["media_id"] and result["cover"]["url"]
    assert result["url"].startswith("http://mmbiz.qpic.cn/")
    assert result["submitted"]["publish_id"] > 2**31
    assert result["job"]["publish_status"] == 0
    state = server.app[STATE_KEY]
    [article] = state.articles.values()
    assert article.articles[0]["title"] == "wechatpy 发布"  # wechatpy's UTF-8 JSON accepted
    assert result["url"] in article.articles[0]["content"]
    assert state.token_fetches == 1


def _revoke_all(server: TestServer) -> None:
    for token in server.app[STATE_KEY].tokens.values():
        token.revoked = True


async def test_wechatpy_auto_retry_on_revoked_token(server: TestServer) -> None:
    client = _client(server)
    await asyncio.to_thread(lambda: client.access_token)
    _revoke_all(server)
    cover = ("c.jpg", JPEG, "image/jpeg")  # bytes: the retry can send them again
    added = await asyncio.to_thread(client.material.add, "image", cover)
    assert added["media_id"]
    assert server.app[STATE_KEY].token_fetches == 2  # wechatpy refetched on 40001


async def test_wechatpy_retry_resends_a_consumed_stream(server: TestServer) -> None:
    """A pitfall the emulator exposes: wechatpy's 40001 auto-retry re-sends the *same* file
    object, already read to its end, so the retried upload is empty (40005). Our connector
    builds a fresh multipart body for each attempt instead."""
    client = _client(server)
    await asyncio.to_thread(lambda: client.access_token)
    _revoke_all(server)
    with pytest.raises(WeChatClientException) as info:
        await asyncio.to_thread(client.material.add, "image", io.BytesIO(JPEG))
    assert info.value.errcode == 40005


async def test_wechatpy_sees_errcode_envelope(server: TestServer) -> None:
    with pytest.raises(WeChatClientException) as info:
        await asyncio.to_thread(lambda: _client(server, secret="wrong").access_token)
    assert info.value.errcode == 40125
