"""The webhook-CMS emulator keeps the contract of docs/platforms/website-webhook.md."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connectors.emulators.webhook_cms import make_app, sign

SECRET = "cms-secret"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def server(aiohttp_server: Any) -> TestServer:
    return await aiohttp_server(make_app(secret=SECRET))


async def signed(
    session: aiohttp.ClientSession,
    server: TestServer,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    key: str | None = None,
) -> tuple[int, Any]:
    raw = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    ts = str(int(time.time()))
    headers = {"X-Gateway-Timestamp": ts, "X-Gateway-Signature": sign(SECRET, ts, raw)}
    if key:
        headers["Idempotency-Key"] = key
    async with session.request(
        method, server.make_url(path), data=raw or None, headers=headers
    ) as resp:
        return resp.status, (await resp.json() if resp.status != 204 else None)


def image(data: bytes) -> dict[str, str]:
    return {
        "filename": "x.jpg",
        "content_type": "image/jpeg",
        "sha256": hashlib.sha256(data).hexdigest(),
        "data_base64": base64.b64encode(data).decode(),
    }


async def test_create_replay_conflict(server: TestServer, session: Any) -> None:
    body = {
        "external_id": "j1",
        "title": "标题",
        "content_html": '<img src="image:0">',
        "images": [image(b"a")],
    }
    status, first = await signed(session, server, "POST", "/posts", body, key="j1")
    assert status == 201 and first["status"] == "published"
    status, again = await signed(session, server, "POST", "/posts", body, key="j1")
    assert status == 200 and again == first
    status, err = await signed(
        session, server, "POST", "/posts", {**body, "title": "另一个"}, key="j1"
    )
    assert status == 409 and err["error"]["code"] == "idempotency_conflict"
    assert err["error"]["retryable"] is False
    status, found = await signed(session, server, "GET", "/posts?external_id=j1")
    assert [i["id"] for i in found["items"]] == [first["id"]]
    assert "image:0" not in found["items"][0]["content_html"]


async def test_bad_image_hash_is_400(server: TestServer, session: Any) -> None:
    bad = {**image(b"a"), "sha256": "0" * 64}
    status, err = await signed(session, server, "POST", "/posts", {"title": "t", "images": [bad]})
    assert status == 400 and err["error"]["code"] == "invalid_body"


async def test_replace_delete_and_repeat(server: TestServer, session: Any) -> None:
    _, created = await signed(session, server, "POST", "/posts", {"title": "t"})
    status, replaced = await signed(
        session, server, "PUT", f"/posts/{created['id']}", {"title": "t2"}
    )
    assert status == 200 and replaced["id"] == created["id"]
    assert (await signed(session, server, "DELETE", f"/posts/{created['id']}"))[0] == 204
    assert (await signed(session, server, "DELETE", f"/posts/{created['id']}"))[0] == 404


async def test_pending_mode(aiohttp_server: Any, session: Any) -> None:
    server = await aiohttp_server(make_app(secret=SECRET, pending_polls=2))
    status, created = await signed(session, server, "POST", "/posts", {"title": "t"}, key="k")
    assert status == 202 and created["status"] == "pending"
    assert (await signed(session, server, "GET", f"/posts/{created['id']}"))[1][
        "status"
    ] == "pending"
    assert (await signed(session, server, "GET", f"/posts/{created['id']}"))[1][
        "status"
    ] == "published"


async def test_unsigned_and_revoked(server: TestServer, session: Any) -> None:
    async with session.get(server.make_url("/posts")) as resp:
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "missing_timestamp"
    async with session.post(server.make_url("/_emulator/revoke")):
        pass
    status, err = await signed(session, server, "GET", "/posts")
    assert status == 401 and err["error"]["code"] == "invalid_signature"
