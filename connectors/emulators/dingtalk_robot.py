"""A DingTalk custom robot (钉钉自定义机器人) emulator with signature checking.

``POST /robot/send?access_token=<token>&timestamp=<ms>&sign=<sign>`` where ``sign`` is
Base64(HmacSHA256(secret, timestamp + "\\n" + secret)). Answers HTTP 200 and
``{"errcode": 0, "errmsg": "ok"}``, or the robot's errors:

* ``300001`` token is not exist -- an unknown ``access_token``;
* ``310000`` sign not match / timestamp expired -- a wrong signature, or a timestamp more than
  an hour from now;
* ``40035`` missing parameter -- no msgtype content (``markdown`` needs ``title`` and ``text``);
* ``130101`` send too fast -- more than ``per_minute`` messages a minute for one token.

``GET /_emulator/messages`` lists every accepted message; ``DELETE`` forgets them. Fault
switches as in :mod:`connectors.emulators.faults`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.emulators import faults

MAX_SKEW_MS = 3600 * 1000


@dataclass
class RobotState:
    tokens: dict[str, str]  # access_token -> signing secret
    per_minute: int = 20
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent_at: dict[str, list[float]] = field(default_factory=dict)


STATE_KEY = web.AppKey("dingtalk_robot_state", RobotState)


def _err(code: int, message: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": message})


def expected_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


async def _send(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    token = request.query.get("access_token", "")
    secret = state.tokens.get(token)
    if secret is None:
        return _err(300001, "token is not exist")
    timestamp = request.query.get("timestamp", "")
    if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > MAX_SKEW_MS:
        return _err(310000, "sign not match, more: timestamp expired or missing")
    if not hmac.compare_digest(request.query.get("sign", ""), expected_sign(secret, timestamp)):
        return _err(310000, "sign not match")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _err(40035, "missing parameter: body is not JSON")
    msgtype = body.get("msgtype") if isinstance(body, dict) else None
    part = body.get(msgtype) if isinstance(body, dict) and isinstance(msgtype, str) else None
    if msgtype == "markdown":
        ok = isinstance(part, dict) and part.get("title") and part.get("text")
    elif msgtype == "text":
        ok = isinstance(part, dict) and part.get("content")
    else:
        ok = msgtype in ("link", "actionCard", "feedCard") and isinstance(part, dict)
    if not ok or not isinstance(part, dict):
        return _err(40035, "missing parameter: msgtype content")
    now = time.time()
    recent = [t for t in state.sent_at.get(token, []) if now - t < 60]
    if len(recent) >= state.per_minute:
        return _err(130101, "send too fast, exceed 20 times per minute")
    state.sent_at[token] = [*recent, now]
    state.messages.append(
        {
            "access_token": token,
            "msgtype": msgtype,
            "title": part.get("title", ""),
            "text": part.get("text") or part.get("content", ""),
            "at": now,
        }
    )
    return _err(0, "ok")


async def _messages(request: web.Request) -> web.Response:
    return web.json_response({"items": request.app[STATE_KEY].messages})


async def _forget(request: web.Request) -> web.Response:
    request.app[STATE_KEY].messages.clear()
    return web.Response(status=204)


def make_app(*, tokens: dict[str, str] | None = None, per_minute: int = 20) -> web.Application:
    """A robot for ``tokens`` (access_token → signing secret)."""
    app = web.Application()
    app[STATE_KEY] = RobotState(
        tokens=dict(tokens or {"dingtalk-token": "SECdingtalk-secret"}), per_minute=per_minute
    )
    faults.install(app)
    app.router.add_post("/robot/send", _send)
    app.router.add_get("/_emulator/messages", _messages)
    app.router.add_delete("/_emulator/messages", _forget)
    return app
