"""Liveness, health, metrics and the OpenAPI document (no authentication)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import json_response, services
from gateway.health import report
from gateway.openapi import openapi_document


async def livez(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def healthz(request: web.Request) -> web.Response:
    """Every part and whether it is ok; 503 naming the failing parts while any is not ok."""
    healthy, body = await report(services(request))
    return json_response(body, status=200 if healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=services(request).metrics.render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())
