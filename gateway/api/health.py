"""Liveness, health, metrics and the OpenAPI document (no authentication)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.api.common import json_response, services
from gateway.openapi import openapi_document

PING_TIMEOUT_S = 2.0


async def livez(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def healthz(request: web.Request) -> web.Response:
    """Pings Redis and every loaded part; 503 if anything the gate needs is down."""
    svc = services(request)
    parts: dict[str, dict[str, object]] = {}

    async def check(name: str, probe: object) -> None:
        try:
            ok = bool(await asyncio.wait_for(probe, PING_TIMEOUT_S))  # type: ignore[arg-type]
            parts[name] = {"ok": ok}
        except Exception as exc:  # a health probe reports, it never raises
            parts[name] = {"ok": False, "error": type(exc).__name__}

    # Probes run concurrently: one slow part (a platform API) costs PING_TIMEOUT_S, not one each.
    probes = {"redis": svc.redis.ping(), "audit": svc.audit.ping()}
    for name, probe in svc.health.probes.items():
        probes[name] = probe()
    await asyncio.gather(*(check(name, probe) for name, probe in probes.items()))
    parts = {name: parts[name] for name in probes}  # stable order, whatever finished first
    parts["vault"] = {
        "ok": svc.vault_ is not None,
        **({"error": svc.vault_problem} if svc.vault_ is None else {}),
    }
    for name, info in svc.health.info.items():
        parts[name] = info()
    required = ("redis", "audit", "vault", *svc.health.required)
    healthy = all(bool(parts.get(n, {}).get("ok")) for n in required)
    for name, state in parts.items():
        svc.metrics.up.set(1.0 if state.get("ok") else 0.0, name)
    return json_response(
        {"status": "ok" if healthy else "unavailable", "parts": parts},
        status=200 if healthy else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=services(request).metrics.render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())
