"""Console test rig: the real gateway on loopback, a logged-in browser-like HTTP client.

:class:`Desk` speaks to ``/console/`` the way a browser does: it keeps cookies, reads the CSRF
token out of the page it was served and posts forms with a same-origin ``Origin`` header.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.gateway.conftest import (  # noqa: F401 - fixtures
    Caller,
    callers,
    client,
    make_client,
    runtime,
    screener,
    settings,
)

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@dataclass
class Desk:
    """One person's browser on the console (a cookie jar of its own)."""

    client: TestClient[Any, Any]
    session: aiohttp.ClientSession
    origin: str
    csrf: str = ""

    async def get(self, path: str, **kw: Any) -> tuple[int, str]:
        async with self.session.get(self.client.make_url(path), **kw) as r:
            return r.status, await r.text()

    async def post(
        self,
        path: str,
        data: dict[str, Any],
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        form = dict(data)
        if csrf:
            form.setdefault("csrf", self.csrf)
        hdrs = {"Origin": self.origin, **(headers or {})}
        resp = await self.session.post(
            self.client.make_url(path), data=form, headers=hdrs, allow_redirects=False
        )
        await resp.read()
        return resp

    async def login(self, key: str) -> aiohttp.ClientResponse:
        status, html = await self.get("/console/login")
        assert status == 200, html
        resp = await self.post("/console/login", {"key": key, "csrf": csrf_of(html)})
        if resp.status == 303:
            _, page = await self.get("/console/accounts")
            self.csrf = csrf_of(page)
        return resp


OpenDesk = Callable[..., Awaitable[Desk]]


@pytest.fixture
async def open_desk() -> AsyncIterator[OpenDesk]:
    """``await open_desk(client, key)``: a browser-like session, logged in when ``key`` is given."""
    opened: list[aiohttp.ClientSession] = []

    async def open_(app_client: TestClient[Any, Any], key: str | None = None) -> Desk:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        opened.append(session)
        desk = Desk(app_client, session, str(app_client.make_url("")).rstrip("/"))
        if key is not None:
            resp = await desk.login(key)
            assert resp.status == 303, await resp.text()
        return desk

    yield open_
    for session in opened:
        await session.close()
