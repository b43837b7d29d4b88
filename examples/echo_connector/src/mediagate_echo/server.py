"""The echo CMS: the smallest HTTP JSON API worth publishing to (the plugin's test server).

``POST /items`` (``Authorization: Bearer <api_key>``, ``Idempotency-Key``) → 201 ``{"id": ...}``;
a repeated key returns the first item. ``GET /items?key=K`` finds an item by key,
``GET /items/{id}`` reads one, ``DELETE /items/{id}`` removes it (404 afterwards).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class EchoState:
    api_key: str
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


STATE = web.AppKey("echo_state", EchoState)


def _authorised(request: web.Request) -> bool:
    return request.headers.get("Authorization") == f"Bearer {request.app[STATE].api_key}"


async def _create(request: web.Request) -> web.Response:
    if not _authorised(request):
        return web.json_response({"error": "unauthorised"}, status=401)
    st = request.app[STATE]
    key = request.headers.get("Idempotency-Key", "")
    if key and key in st.by_key:
        return web.json_response(st.items[st.by_key[key]], status=200)
    body = await request.json()
    item_id = str(next(st.ids))
    st.items[item_id] = {"id": item_id, "key": key, **body}
    if key:
        st.by_key[key] = item_id
    return web.json_response(st.items[item_id], status=201)


async def _find(request: web.Request) -> web.Response:
    if not _authorised(request):
        return web.json_response({"error": "unauthorised"}, status=401)
    st = request.app[STATE]
    item_id = st.by_key.get(request.query.get("key", ""))
    return web.json_response([st.items[item_id]] if item_id in st.items else [])


async def _item(request: web.Request) -> web.Response:
    if not _authorised(request):
        return web.json_response({"error": "unauthorised"}, status=401)
    st = request.app[STATE]
    item_id = request.match_info["item_id"]
    if item_id not in st.items:
        return web.json_response({"error": "not found"}, status=404)
    if request.method == "DELETE":
        del st.items[item_id]
        return web.Response(status=204)
    return web.json_response(st.items[item_id])


def make_app(*, api_key: str = "echo-demo-key") -> web.Application:
    app = web.Application()
    app[STATE] = EchoState(api_key=api_key)
    app.router.add_post("/items", _create)
    app.router.add_get("/items", _find)
    app.router.add_get("/items/{item_id}", _item)
    app.router.add_delete("/items/{item_id}", _item)
    return app
