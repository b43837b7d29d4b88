"""The example plugin passes mediagate's conformance kit (run: ``pytest`` in this folder)."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp
from mediagate_echo import EchoConnector
from mediagate_echo.server import make_app

from connectors.base import AccountRef, OutboundPost
from connectors.testing import assert_conformant

POST = OutboundPost(
    title="Hello from the echo plugin",
    digest="A minimal post",
    author="Brand team",
    content="<p>Body</p>",
    source="",
    category="news",
    content_sha256=hashlib.sha256(b"<p>Body</p>").hexdigest(),
)


async def test_echo_connector_is_conformant(aiohttp_server: Any) -> None:
    server = await aiohttp_server(make_app(api_key="echo-key-123456"))
    async with aiohttp.ClientSession() as session:
        await assert_conformant(
            EchoConnector,
            section={"base_url": str(server.make_url("")), "timeout_s": 2.0},
            session=session,
            account=AccountRef(id="acct-echo", platform="echo", name="Echo demo"),
            post=POST,
            credentials={"api_key": "echo-key-123456"},
            bad_credentials={"api_key": "wrong-key-98765"},
        )
