"""Helpers shared by handlers: the services, the body, the audit actor, JSON answers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from gateway.appkeys import SERVICES
from gateway.middleware import REQUEST_ID, principal_of
from gateway.services import Services, actor_of
from gateway.validation import read_json


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def body(request: web.Request) -> dict[str, Any]:
    limits = services(request).settings.limits
    return await read_json(
        request, max_bytes=limits.max_body_bytes, max_depth=limits.max_json_depth
    )


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
