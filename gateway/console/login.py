"""Log in (an API key exchanged for a session cookie), log out, and the landing page."""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from gateway.console.context import APPROVERS, AUDITORS, SUBMITTERS, form_text, me, page, services
from gateway.console.guard import ACTIVE, LOGIN_COOKIE, sessions
from gateway.console.session import COOKIE
from gateway.services import actor_of

log = logging.getLogger(__name__)


def _next_path(value: str) -> str:
    """Where to go after login: only a path inside the console (no open redirect)."""
    if value.startswith("/console/") and not value.startswith("/console//") and "\\" not in value:
        return value
    return "/console/"


def _cookie_flags(request: web.Request) -> dict[str, object]:
    return {
        "path": "/console/",
        "httponly": True,
        "samesite": "Strict",
        "secure": request.secure,
    }


async def login_form(request: web.Request) -> web.Response:
    token = secrets.token_urlsafe(32)
    response = page(
        "login.html",
        request,
        {"login_csrf": token, "next": _next_path(request.query.get("next", "")), "error": ""},
    )
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, **_cookie_flags(request))  # type: ignore[arg-type]
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    api_key = form_text(form, "key", max_chars=256)
    target = _next_path(form_text(form, "next", max_chars=2000))
    active = await sessions(request).login(api_key) if api_key else None
    if active is None:
        log.info("console: login refused (unknown or revoked key)")
        token = secrets.token_urlsafe(32)
        response = page(
            "login.html",
            request,
            {"login_csrf": token, "next": target, "error": "API 密钥无效或已吊销。"},
            status=401,
        )
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, **_cookie_flags(request))  # type: ignore[arg-type]
        return response
    await services(request).audit.append(
        actor=actor_of(active.principal), action="console.login", target=active.principal.id
    )
    response = web.HTTPSeeOther(target)
    ttl_s = int(active.session.expires_at - active.session.created_at)
    response.set_cookie(COOKIE, active.sid, max_age=ttl_s, **_cookie_flags(request))  # type: ignore[arg-type]
    response.del_cookie(LOGIN_COOKIE, path="/console/")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    active = request[ACTIVE]
    await sessions(request).logout(active.sid)
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(COOKIE, path="/console/")
    raise response


async def home(request: web.Request) -> web.StreamResponse:
    """The landing page: approvers start at their inbox, editors at their submissions."""
    role = me(request).role
    if role in APPROVERS:
        raise web.HTTPSeeOther("/console/inbox")
    if role in SUBMITTERS:
        raise web.HTTPSeeOther("/console/submissions")
    if role in AUDITORS:
        raise web.HTTPSeeOther("/console/audit")
    raise web.HTTPSeeOther("/console/accounts")
