"""The middleware chain, in the order it runs (outermost first):

1. ``request_id`` -- takes a sane ``X-Request-Id`` or makes one; echoes it on every answer,
                     puts it on every log line and writes the JSON access log line.
2. ``problems``   -- maps :class:`GatewayError`, aiohttp's HTTP errors and store outages to
                     RFC 9457 problem+json; any other exception becomes a generic 500 carrying
                     the request id, logged with its traceback, nothing internal leaked.
3. ``metrics``    -- counts requests and latency per route template.
4. ``text_guard`` -- 400 naming the parameter or header when a path segment, query parameter or
                     a header the gateway reads is not valid Unicode text.
5. ``throttle``   -- the per-address rate limit on protected routes (429 with ``Retry-After``).
6. ``auth``       -- authenticates the bearer key, applies the per-key rate limit and checks
                     the route's declared roles.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from aiohttp import web
from redis.exceptions import RedisError

from gateway.api.bodies import PATH_PARAMS
from gateway.appkeys import SERVICES
from gateway.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthenticated,
)
from gateway.logs import REQUEST_ID_VAR, log_access
from gateway.principals import Principal, presented
from gateway.ratelimit import KeyRead
from gateway.validation import SURROGATE_RE, invalid_text, printable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROBLEM_JSON = "application/problem+json"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
# the presented API key's stored record (and its per-key window), read by throttle for auth
KEY_RECORD: web.RequestKey[KeyRead] = web.RequestKey("key_record", KeyRead)
ROUTE_ROLES: web.AppKey[dict[tuple[str, str], frozenset[str] | None]] = web.AppKey("route_roles")


def problem_response(error: GatewayError, request: web.Request) -> web.Response:
    body = error.to_problem(instance=request.path)
    body["request_id"] = request.get(REQUEST_ID, "")
    headers = dict(error.headers)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="mediagate"'
    return web.Response(
        status=error.status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type=PROBLEM_JSON,
        charset="utf-8",
        headers=headers,
    )


@web.middleware
async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Names the request (``X-Request-Id``) for its answer and every log line, and writes its
    access log line (JSON) once the answer is known."""
    given = request.headers.get("X-Request-Id", "")
    rid = given if _REQUEST_ID_RE.match(given) else secrets.token_hex(8)
    request[REQUEST_ID] = rid
    token = REQUEST_ID_VAR.set(rid)
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:  # redirects and the like pass through as exceptions
        exc.headers["X-Request-Id"] = rid
        status = exc.status
        raise
    finally:
        principal = request.get(PRINCIPAL)
        log_access(
            {
                "event": "access",
                "request_id": rid,
                "method": request.method,
                "path": printable(request.path),
                "route": _route_template(request),
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                "remote": request.remote or "",
                "key_id": principal.id if principal else "",
            }
        )
        REQUEST_ID_VAR.reset(token)
    response.headers["X-Request-Id"] = rid
    return response


def _allowed_methods(request: web.Request, fallback: set[str]) -> list[str]:
    """The methods of the path as documented: a fixed path (``/v1/posts/hash``) answers for its
    own methods, not for those of a parameterised sibling that also matches it
    (``/v1/posts/{post_id}``)."""
    fixed = {
        route.method
        for resource in request.app.router.resources()
        if resource.canonical == request.path and "{" not in resource.canonical
        for route in resource
        if route.method != "HEAD"
    }
    return sorted(fixed or fallback)


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> GatewayError:
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("no such resource")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(_allowed_methods(request, set(exc.allowed_methods)))
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("body: request too large")
    error = BadRequest(exc.reason or "bad request")
    error.status = exc.status  # type: ignore[misc]
    return error


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except GatewayError as exc:
        return problem_response(exc, request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(_from_http_exception(exc, request), request)
    except RedisError as exc:
        log.error(
            "store unavailable during %s %s: %s", request.method, request.path, type(exc).__name__
        )
        return problem_response(
            ServiceUnavailable(
                "the state store is unavailable; nothing was done", reason="store_unavailable"
            ),
            request,
        )
    except Exception:
        log.exception(
            "unhandled error in %s %s (request %s)",
            request.method,
            request.path,
            request.get(REQUEST_ID, ""),
        )
        error = GatewayError(f"internal error; quote request id {request.get(REQUEST_ID, '')}")
        error.status, error.slug, error.title = 500, "internal", "Internal error"  # type: ignore[misc]
        return problem_response(error, request)
    return response


def _route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    route = _route_template(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except (GatewayError, web.HTTPException) as exc:  # mapped to a problem further out
        status = exc.status
        raise
    except RedisError:
        status = 503
        raise
    finally:
        services = request.app.get(SERVICES)
        if services is not None:
            services.metrics.requests.inc(request.method, route, str(status))
            services.metrics.latency.observe(time.perf_counter() - start, route)


# Headers the gateway reads; aiohttp decodes header bytes that are not UTF-8 to lone surrogates.
READ_HEADERS = ("Authorization", "Idempotency-Key", "Content-Type")


def _bad_utf8(raw: str) -> bool:
    try:
        unquote_to_bytes(raw.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _invalid_text_field(request: web.Request) -> str | None:
    """The name of the first path parameter, query parameter or read header that is not valid
    Unicode text (yarl turns bad percent-encoded UTF-8 into U+FFFD, so the raw form is judged)."""
    segments = request.rel_url.raw_path.split("/")
    if any(_bad_utf8(s) for s in segments):
        template = _route_template(request).split("/")
        for segment, part in zip(segments, template, strict=False):
            if _bad_utf8(segment) and part.startswith("{") and part.endswith("}"):
                return part[1:-1]
        return "path"
    for pair in request.rel_url.raw_query_string.split("&"):
        name, _, value = pair.partition("=")
        if _bad_utf8(name):
            return "query"
        if _bad_utf8(value):
            return printable(unquote_to_bytes(name.replace("+", " ")).decode("utf-8"))
    for header in READ_HEADERS:
        if SURROGATE_RE.search(request.headers.get(header, "")):
            return header
    return None


@web.middleware
async def text_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for text that is not Unicode (before authentication: a bad header must not crash it)."""
    field = _invalid_text_field(request)
    if field is not None:
        raise invalid_text(field)
    return await handler(request)


def _check_path_params(request: web.Request) -> None:
    """422 naming a path parameter its definition (:data:`gateway.api.bodies.PATH_PARAMS`)
    refuses; after authentication, so an anonymous caller learns nothing from it."""
    for name, value in request.match_info.items():
        definition = PATH_PARAMS.get(name)
        if definition is not None:
            definition.parse(value, name)


@web.middleware
async def throttle(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per-address limit, before authentication (bounds key guessing); public routes are free.
    The record of the presented API key is read in the same round trip, for :func:`auth`, and
    the key's own window is hit there too if that record will authenticate it."""
    if request.app[ROUTE_ROLES].get((request.method, _route_template(request))) is not None:
        svc = request.app[SERVICES]
        address = request.remote or "unknown"
        key = _presented_key(request)
        if key is None:
            await svc.limiter.hit_ip(address)
        else:
            key_id, secret_sha256 = key
            request[KEY_RECORD] = await svc.limiter.hit_ip_and_key(
                address, key_id, svc.keys.api_key(key_id), secret_sha256
            )
    return await handler(request)


def _presented_key(request: web.Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return presented(value.strip()) if scheme.lower() == "bearer" else None


def bearer_key(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("send 'Authorization: Bearer <api key>'", reason="missing_key")
    return value.strip()


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route_template(request)
    roles = request.app[ROUTE_ROLES].get((request.method, route), None)
    if roles is None:  # public route, or unmatched (404/405 come from the router)
        _check_path_params(request)
        return await handler(request)
    svc = request.app[SERVICES]
    read = request.get(KEY_RECORD)
    principal: Principal | None = await svc.principals.authenticate(
        bearer_key(request), (read.key_id, read.record) if read is not None else None
    )
    if principal is None:
        raise Unauthenticated("the API key is unknown or revoked", reason="bad_key")
    if read is not None and read.key_window is not None and read.key_id == principal.id:
        svc.limiter.judge_key(read.key_window)  # hit with the per-address limit
    else:
        await svc.limiter.hit_key(principal.id)
    if principal.role not in roles:
        raise Forbidden(
            f"role {principal.role!r} may not call {request.method} {route}; "
            f"allowed: {', '.join(sorted(roles))}",
            reason="wrong_role",
        )
    request[PRINCIPAL] = principal
    _check_path_params(request)
    return await handler(request)


def principal_of(request: web.Request) -> Principal:
    principal: Principal = request[PRINCIPAL]
    return principal
