"""The console's one middleware: security headers, cross-site refusal, session, roles, CSRF.

In the order it checks (each step answers on its own when it refuses):

1. every answer, refusals and redirects included, carries a strict Content-Security-Policy
   (``script-src 'self'``, no inline script or style, ``frame-ancestors 'none'``),
   ``X-Frame-Options: DENY``, ``nosniff``, ``no-store`` and a same-origin referrer policy;
2. a state-changing request (anything but GET/HEAD) whose ``Sec-Fetch-Site`` is not
   ``same-origin``/``none``, or whose ``Origin`` is not this console's, is refused with 403;
3. the session cookie is resumed; a page that needs a role sends a stranger to the login page
   (or 401 for a non-GET) and a principal without the role gets 403;
4. a state-changing request must carry the session's CSRF token (form field ``csrf`` or header
   ``X-CSRF-Token``); the login form, which has no session yet, uses a double-submit cookie;
5. on a page Brand-PR opens, the open bypass alerts are counted for the navigation.

Refusals and service errors are rendered as a Chinese error page (JSON under ``/console/api/``).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from redis.exceptions import RedisError

from gateway.appkeys import SERVICES
from gateway.console.session import COOKIE, Active, SessionStore
from gateway.errors import GatewayError
from gateway.watch.alerts import AlertStore

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_COOKIE = "mg_console_login"  # double-submit CSRF token of the login form
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

ACTIVE: web.RequestKey[Active] = web.RequestKey("console_active", Active)
#: Open bypass alerts, counted for Brand-PR's navigation on every page they get.
OPEN_ALERTS: web.RequestKey[int] = web.RequestKey("console_open_alerts", int)
PAGE_ROLES: web.AppKey[dict[tuple[str, str], frozenset[str] | None]] = web.AppKey(
    "console_page_roles"
)
#: Routes that take a state-changing request without a session (the login form).
SESSIONLESS_POSTS = frozenset({"/console/login"})


class Refused(GatewayError):
    """A console refusal that is not a service's: cross-site, no CSRF token, no session."""

    status, slug, title = 403, "console-refused", "Refused"


def sessions(request: web.Request) -> SessionStore:
    svc = request.config_dict[SERVICES]
    return SessionStore(svc.redis, svc.keys, svc.principals, svc.settings.console)


def own_origins(request: web.Request) -> set[str]:
    """Origins this console answers as: the request's own, and the configured public URL."""
    origins = {f"{request.scheme}://{request.host}"}
    public = request.config_dict[SERVICES].settings.server.public_url
    if public:
        parts = urlsplit(public)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def _cross_site(request: web.Request) -> str:
    """Why a state-changing request looks cross-site ("" if it does not)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = request.headers.get("Origin")
    if origin is not None and origin not in own_origins(request):
        return "Origin is not this console's"
    return ""


def _secure_headers(response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else ""


async def _given_csrf(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _same(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)


def error_page(request: web.Request, status: int, title: str, detail: str) -> web.Response:
    if request.path.startswith("/console/api/"):
        return web.json_response(
            {"status": status, "title": title, "detail": detail},
            status=status,
            content_type="application/problem+json",
            dumps=lambda v: json.dumps(v, ensure_ascii=False),
        )
    from gateway.console.context import page  # the frame; context imports this module

    context: dict[str, Any] = {"status": status, "title": title, "detail": detail}
    return page("error.html", request, context, status=status)


def _login_redirect(request: web.Request) -> web.HTTPSeeOther:
    target = request.rel_url.path_qs if request.method == "GET" else "/console/"
    return web.HTTPSeeOther(f"/console/login?next={quote(target, safe='')}")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await _checked(request, handler)
    except web.HTTPException as exc:
        if exc.status >= 400:
            response = error_page(request, exc.status, title_for(exc.status), exc.text or "")
        else:
            _secure_headers(exc)
            raise
    except GatewayError as exc:
        response = error_page(request, exc.status, title_for(exc.status), exc.detail)
    except RedisError as exc:
        log.error("console: store unavailable during %s %s: %s", request.method, request.path,
                  type(exc).__name__)  # fmt: skip
        response = error_page(request, 503, "服务暂不可用", "存储暂不可用，未做任何更改。")
    _secure_headers(response)
    return response


def title_for(status: int) -> str:
    return {
        400: "请求有误",
        401: "请先登录",
        403: "无权操作",
        404: "未找到",
        409: "状态冲突",
        422: "内容未通过",
        423: "账号已冻结",
        405: "不支持的操作",
        413: "内容过大",
        503: "服务暂不可用",
    }.get(status, "出错了")


async def _checked(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route(request)
    roles = request.app[PAGE_ROLES].get((request.method, route))
    unsafe = request.method not in SAFE_METHODS
    if unsafe:
        why = _cross_site(request)
        if why:
            log.warning("console: cross-site %s %s refused (%s)", request.method, request.path, why)
            raise Refused(f"跨站提交已拒绝（{why}）。")
    sid = request.cookies.get(COOKIE, "")
    active = await sessions(request).resume(sid) if sid else None
    if active is not None:
        request[ACTIVE] = active
    if unsafe:
        if route in SESSIONLESS_POSTS:
            expected = request.cookies.get(LOGIN_COOKIE, "")
        else:
            expected = active.session.csrf if active is not None else ""
        if active is None and route not in SESSIONLESS_POSTS:
            raise web.HTTPUnauthorized(reason="请先登录", text="会话不存在或已过期，请重新登录。")
        if not _same(await _given_csrf(request), expected):
            log.warning("console: %s %s without a valid CSRF token", request.method, request.path)
            raise Refused("表单缺少有效的 CSRF 令牌，请刷新页面后重试。")
    if roles is not None:
        if active is None:
            raise _login_redirect(request)
        if active.principal.role not in roles:
            raise Refused(f"角色 {active.principal.role} 不能使用此页面。")
    page_for_brand_pr = active is not None and active.principal.role == "brand_pr"
    if page_for_brand_pr and roles is not None and not unsafe:  # the navigation's open alerts
        svc = request.config_dict[SERVICES]
        request[OPEN_ALERTS] = await AlertStore(svc.redis, svc.keys).open_count()
    return await handler(request)
