"""Accounts with their filing state and freezes; freeze / unfreeze for Brand-PR (Art. 7, 8)."""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web

from gateway.authz import covers
from gateway.console.context import form_text, me, page, services
from gateway.errors import field_error
from gateway.freeze import Scope, freeze_audited
from gateway.services import actor_of


async def accounts_page(request: web.Request) -> web.Response:
    svc, principal = services(request), me(request)
    policy = svc.settings.policy
    accounts = [a for a in await svc.accounts.list_all() if covers(policy, principal, a.unit)]
    freezes = await svc.freeze.list_all()
    frozen_all = next((f for f in freezes if f.scope == "all"), None)
    rows: list[dict[str, Any]] = []
    for account in sorted(accounts, key=lambda a: (a.unit, a.id)):
        freeze = await svc.freeze.blocking(account=account.id, unit=account.unit)
        rows.append({"account": account, "freeze": freeze})
    visible_units = {a.unit for a in accounts}
    unit_freezes = [f for f in freezes if f.scope == "unit" and f.id in visible_units]
    return page(
        "accounts.html",
        request,
        {
            "rows": rows,
            "frozen_all": frozen_all,
            "unit_freezes": unit_freezes,
            "units": sorted(policy.units.values(), key=lambda u: u.id),
        },
    )


async def _freeze_form(request: web.Request) -> tuple[Scope, str, str]:
    svc = services(request)
    form = await request.post()
    scope = form_text(form, "scope", required=True, max_chars=16)
    if scope not in ("account", "unit", "all"):
        raise field_error("scope", "one of account, unit, all")
    target = form_text(form, "id", required=scope != "all", max_chars=64)
    reason = form_text(form, "reason", max_chars=2000)
    if scope == "unit" and target not in svc.settings.policy.units:
        raise field_error("id", f"unknown unit {target!r}")
    if scope == "account" and await svc.accounts.get(target) is None:
        raise field_error("id", f"unknown account {target!r}")
    return cast(Scope, scope), target, reason


async def freeze(request: web.Request) -> web.StreamResponse:
    """Freeze an account, a unit or everything (audited first, as ``POST /admin/freeze``)."""
    svc, principal = services(request), me(request)
    scope, target, reason = await _freeze_form(request)
    if not reason:
        raise field_error("reason", "is required to freeze")
    await freeze_audited(
        svc, actor_of(principal), scope, target, reason=reason, details={"via": "console"}
    )
    raise web.HTTPSeeOther("/console/accounts")


async def unfreeze(request: web.Request) -> web.StreamResponse:
    svc, principal = services(request), me(request)
    scope, target, reason = await _freeze_form(request)
    await svc.audit.append(
        actor=actor_of(principal),
        action="unfreeze",
        target=f"{scope}:{target or '*'}",
        reasons=[reason] if reason else [],
        details={"via": "console"},
    )
    await svc.freeze.unfreeze(scope, target)
    raise web.HTTPSeeOther("/console/accounts")
