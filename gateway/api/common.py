"""Helpers shared by handlers: the services, the body, the audit actor, JSON answers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.api.bodies import QUERIES, request_bodies
from gateway.appkeys import SERVICES
from gateway.middleware import REQUEST_ID, principal_of
from gateway.schema import Array
from gateway.services import Services, actor_of
from gateway.validation import read_json

if TYPE_CHECKING:
    from gateway.routes import Route


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def body(request: web.Request) -> dict[str, Any]:
    limits = services(request).settings.limits
    return await read_json(
        request, max_bytes=limits.max_body_bytes, max_depth=limits.max_json_depth
    )


def _route(request: web.Request) -> Route:
    from gateway.routes import route_for  # routes imports the handlers that import this module

    return route_for(request.method, request.match_info.route.resource.canonical)  # type: ignore[union-attr]


async def parsed_body(request: web.Request) -> dict[str, Any]:
    """The body parsed by the definition the route names (``Route.request``), every field
    present (absent optional fields as their default). A route whose body is optional
    (``Route.body_optional``) and was sent none parses as ``{}``."""
    route = _route(request)
    data = await body(request) if request.body_exists or not route.body_optional else {}
    return parse_body(request, data)


def parse_body(request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a JSON object already read) parsed by the route's body definition."""
    svc = services(request)
    bodies = request_bodies(svc.settings.limits, tuple(svc.settings.policy.units))
    return bodies[_route(request).request].parse(data)


def parsed_query(request: web.Request) -> dict[str, Any]:
    """The query parameters the route declares (``Route.query``), parsed; others are ignored."""
    definition = QUERIES[_route(request).query]
    raw: dict[str, Any] = {}
    for name, spec in definition.fields.items():
        if isinstance(spec.type, Array):
            values = request.query.getall(name, [])
            if values:
                raw[name] = values
        elif name in request.query:  # an empty value is a value (and judged as one)
            raw[name] = request.query[name]
    return definition.parse(raw)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


async def audit(
    request: web.Request,
    action: str,
    target: str = "",
    *,
    result: str = "ok",
    decision: str = "",
    reasons: Sequence[str] = (),
    content_sha256: str = "",
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record the request's action before answering; raises 503 if it cannot be recorded."""
    svc = services(request)
    try:
        return await svc.audit.append(
            actor=actor_of(principal_of(request)),
            action=action,
            target=target,
            result=result,
            decision=decision,
            reasons=reasons,
            content_sha256=content_sha256,
            request_id=request.get(REQUEST_ID, ""),
            details=details,
        )
    except Exception:
        svc.metrics.audit_failures.inc()
        raise
