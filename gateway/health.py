"""What ``/healthz`` reports: every part of the gateway, and whether all of them are ok.

Redis, the audit log and the vault are always checked; the parts register the rest in
:class:`gateway.services.HealthRegistry` (screening, the classifier, approvals, delivery, one
probe per connector). The gateway is healthy only while every part is ok; the answer names the
parts that are not.

A connector is ok when its platform answers, or when no active account uses it (nothing could be
delivered through it, so its platform being out of reach stops nothing): a fresh install with no
accounts is healthy on a machine that cannot reach the platforms, and the part still says
``"reachable": false``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from gateway.services import Services

PING_TIMEOUT_S = 2.0
CONNECTOR_PREFIX = "connector:"


async def _check(probe: Awaitable[Any]) -> dict[str, object]:
    try:
        return {"ok": bool(await asyncio.wait_for(probe, PING_TIMEOUT_S))}
    except Exception as exc:  # a health probe reports, it never raises
        return {"ok": False, "error": type(exc).__name__}


async def _accounts_by_platform(svc: Services) -> dict[str, int] | None:
    try:
        accounts = await asyncio.wait_for(svc.accounts.list_all(state="active"), PING_TIMEOUT_S)
    except Exception:  # the store is down: the redis part says so
        return None
    counts: dict[str, int] = {}
    for account in accounts:
        counts[account.platform] = counts.get(account.platform, 0) + 1
    return counts


async def report(svc: Services) -> tuple[bool, dict[str, Any]]:
    """``(healthy, body)``; probes run concurrently (one slow platform costs one timeout)."""
    probes: dict[str, Awaitable[Any]] = {"redis": svc.redis.ping(), "audit": svc.audit.ping()}
    for name, probe in svc.health.probes.items():
        probes[name] = probe()
    names = list(probes)
    results, in_use = await asyncio.gather(
        asyncio.gather(*(_check(probes[n]) for n in names)), _accounts_by_platform(svc)
    )
    parts: dict[str, dict[str, Any]] = dict(zip(names, results, strict=True))
    for name in names:
        if name.startswith(CONNECTOR_PREFIX):
            parts[name] = _connector_part(parts[name], in_use, name[len(CONNECTOR_PREFIX) :])
    parts["vault"] = {
        "ok": svc.vault_ is not None,
        **({"error": svc.vault_problem} if svc.vault_ is None else {}),
    }
    for name, info in svc.health.info.items():
        parts[name] = info()
    failing = [name for name, state in parts.items() if not state.get("ok")]
    for name, state in parts.items():
        svc.metrics.up.set(1.0 if state.get("ok") else 0.0, name)
    body: dict[str, Any] = {"status": "unavailable" if failing else "ok", "parts": parts}
    if failing:
        body["failing"] = failing
    return not failing, body


def _connector_part(
    probed: dict[str, Any], in_use: dict[str, int] | None, platform: str
) -> dict[str, Any]:
    reachable = bool(probed.get("ok"))
    accounts = None if in_use is None else in_use.get(platform, 0)
    part: dict[str, Any] = {
        "ok": reachable or accounts == 0,
        "reachable": reachable,
        "active_accounts": accounts,
    }
    if "error" in probed:
        part["error"] = probed["error"]
    if not reachable and accounts == 0:
        part["note"] = "platform not reachable; no active account uses this connector"
    return part
