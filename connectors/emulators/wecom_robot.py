"""A WeCom group robot (企业微信群机器人) emulator: the webhook send API and what it received.

``POST /cgi-bin/webhook/send?key=<key>`` with a JSON message answers HTTP 200 and
``{"errcode": 0, "errmsg": "ok"}``, or the robot's errors:

* ``93000`` invalid webhook url -- an unknown ``key``;
* ``40008`` invalid message type -- ``msgtype`` other than text / markdown / markdown_v2 / news;
* ``4000x``-style missing content -- ``markdown.content`` (or ``text.content``) absent;
* ``40058`` content exceeds the limit -- Markdown over 4096 bytes, text over 2048 bytes;
* ``45009`` api freq out of limit -- more than ``per_minute`` messages a minute for one key.

``GET /_emulator/messages`` lists every accepted message (``key``, ``msgtype``, ``content``,
``at``); ``DELETE /_emulator/messages`` forgets them. Fault switches as in
:mod:`connectors.emulators.faults`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.emulators import faults

LIMITS_BYTES = {"markdown": 4096, "markdown_v2": 4096, "text": 2048}


@dataclass
class RobotState:
    keys: frozenset[str]
    per_minute: int = 20
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent_at: dict[str, list[float]] = field(default_factory=dict)


STATE_KEY = web.AppKey("wecom_robot_state", RobotState)


def _err(code: int, message: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": message})


async def _send(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    key = request.query.get("key", "")
    if key not in state.keys:
        return _err(93000, "invalid webhook url, hint: key not found")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _err(40001, "invalid json, hint: body is not JSON")
    if not isinstance(body, dict):
        return _err(40001, "invalid json, hint: body is not an object")
    msgtype = body.get("msgtype")
    if msgtype not in ("text", "markdown", "markdown_v2", "news"):
        return _err(40008, "invalid message type")
    part = body.get(msgtype)
    if msgtype != "news":
        content = part.get("content") if isinstance(part, dict) else None
        if not isinstance(content, str) or not content:
            return _err(44004, "empty content, hint: content is missing")
        if len(content.encode()) > LIMITS_BYTES[msgtype]:
            return _err(40058, f"content exceed max length {LIMITS_BYTES[msgtype]}")
    else:
        content = json.dumps(part, ensure_ascii=False)
    now = time.time()
    recent = [t for t in state.sent_at.get(key, []) if now - t < 60]
    if len(recent) >= state.per_minute:
        return _err(45009, "api freq out of limit")
    state.sent_at[key] = [*recent, now]
    state.messages.append({"key": key, "msgtype": msgtype, "content": content, "at": now})
    return _err(0, "ok")


async def _messages(request: web.Request) -> web.Response:
    return web.json_response({"items": request.app[STATE_KEY].messages})


async def _forget(request: web.Request) -> web.Response:
    request.app[STATE_KEY].messages.clear()
    return web.Response(status=204)


def make_app(
    *, keys: tuple[str, ...] = ("wecom-robot-key",), per_minute: int = 20
) -> web.Application:
    """A robot that accepts messages for ``keys`` (the ``key`` of each group's webhook URL)."""
    app = web.Application()
    app[STATE_KEY] = RobotState(keys=frozenset(keys), per_minute=per_minute)
    faults.install(app)
    app.router.add_post("/cgi-bin/webhook/send", _send)
    app.router.add_get("/_emulator/messages", _messages)
    app.router.add_delete("/_emulator/messages", _forget)
    return app
