"""Bypass detection on demand (docs/bypass.md): Brand-PR or an admin reconciles one account now."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import audit, json_response, services
from gateway.appkeys import WATCH
from gateway.errors import Conflict


async def reconcile_account(request: web.Request) -> web.Response:
    """One reconciler pass over the account: the alerts it raised, the items it saw, or why
    the platform could not be listed (``listed`` false, ``result`` and ``reason``)."""
    svc = services(request)
    account = await svc.accounts.require(request.match_info["account"])
    if account.state != "active":
        raise Conflict(
            f"account {account.id} is {account.state}; only active accounts are reconciled",
            reason="not_active",
            state=account.state,
        )
    reconciler = request.app[WATCH]
    if reconciler.listable(account) is None:
        raise Conflict(
            f"the {account.platform} connector cannot list what the account holds",
            reason="not_listable",
        )
    svc.vault  # noqa: B018 - 503 without the vault: nothing is listed without credentials
    report = await reconciler.run_pass(account)
    if report.result == "busy":
        raise Conflict(f"account {account.id}: {report.reason}", reason="busy")
    await audit(
        request,
        "watch.reconcile",
        account.id,
        result=report.result,
        reasons=[report.reason] if report.reason else [],
        details={
            "items_seen": report.items_seen,
            "fetched": report.fetched,
            "alerts": [a.id for a in report.alerts],
        },
    )
    return json_response(report.public())
