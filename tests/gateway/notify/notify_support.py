"""Real receivers on loopback for notification tests: robot emulators, an SMTP server, a hook."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from connectors.webhook import signature

WECOM_KEY = "wecom-key-for-tests"
DING_TOKEN = "ding-token-for-tests"
DING_SECRET = "SECding-secret-for-tests"
HOOK_SECRET = "hook-secret-for-tests"
ENVIRON = {
    "T_WECOM_KEY": WECOM_KEY,
    "T_DING_TOKEN": DING_TOKEN,
    "T_DING_SECRET": DING_SECRET,
    "T_HOOK_SECRET": HOOK_SECRET,
}


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append(envelope)
        return "250 OK"


async def smtp_server(mailbox: Mailbox) -> tuple[asyncio.Server, int]:
    """A real SMTP server (aiosmtpd) on an ephemeral loopback port, in this event loop."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(mailbox, hostname="mail.test", enable_SMTPUTF8=True), "127.0.0.1", 0
    )
    return server, server.sockets[0].getsockname()[1]


@dataclass
class Hook:
    """A signed-webhook receiver that checks the signature of everything it gets."""

    secret: str = HOOK_SECRET
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0

    def app(self) -> web.Application:
        async def receive(request: web.Request) -> web.Response:
            body = await request.read()
            ts = request.headers.get("X-Gateway-Timestamp", "")
            if request.headers.get("X-Gateway-Signature") != signature(self.secret, ts, body):
                self.bad_signatures += 1
                return web.Response(status=401)
            self.received.append(json.loads(body))
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/hook", receive)
        return app


def hanging_app() -> web.Application:
    """A receiver that accepts the connection and never answers."""

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()  # pragma: no cover

    app = web.Application()
    app.router.add_post("/{tail:.*}", hang)
    return app


async def eventually(check: Any, timeout_s: float = 8.0) -> Any:
    """Poll ``check()`` (async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)
