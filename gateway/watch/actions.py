"""What people do with a bypass alert (docs/bypass.md, docs/console.md "Handling alerts").

The API (:mod:`gateway.api.alerts`) and the console (:mod:`gateway.console.alerts`) call these
functions, so both see the same alerts, refuse the same things and write the same audit records:

* **who reads** -- Brand-PR and admins every alert; a unit head the alerts of the accounts of the
  units they cover (:func:`gateway.authz.covers`); an alert outside the caller's units is 404;
* **acknowledge** (Brand-PR, a note required) -- ``open`` → ``acknowledged``, audited
  ``alert.acknowledged`` with the note before the state changes;
* **freeze** (Brand-PR, a reason required) -- freezes the alert's account with the freeze switch
  the way every freeze is made (:func:`gateway.freeze.freeze_audited`: an audited ``freeze`` of
  ``account:<id>``), then marks the alert ``frozen``; ``alert.frozen`` is audited first.

An alert that is no longer open answers 409 (the state change itself is checked in the store's
transaction, so two people acting at once change it once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway.audit import Actor
from gateway.authz import covers
from gateway.errors import Conflict, Forbidden, NotFound, field_error
from gateway.freeze import FreezeRecord, freeze_audited
from gateway.principals import Principal
from gateway.services import Services, actor_of
from gateway.watch.alerts import Alert, AlertStore

#: Roles that read alerts (a unit head: scoped to the units they cover).
READERS = frozenset({"brand_pr", "admin", "unit_head"})
#: Roles that acknowledge alerts and freeze accounts from them.
HANDLERS = frozenset({"brand_pr"})
MAX_NOTE_CHARS = 2000
MAX_LIST = 500
#: How many audit records the detail view reads at most to find an alert's records.
MAX_AUDIT_SCAN = 20_000


@dataclass(frozen=True)
class Filters:
    state: str = ""
    account: str = ""
    kind: str = ""
    since: float | None = None
    until: float | None = None
    limit: int = 100
    offset: int = 0


def store(svc: Services) -> AlertStore:
    return AlertStore(svc.redis, svc.keys)


async def visible_accounts(svc: Services, principal: Principal) -> set[str] | None:
    """The accounts whose alerts ``principal`` may read; ``None`` for every account."""
    if principal.role in ("brand_pr", "admin"):
        return None
    if principal.role not in READERS:
        return set()
    policy = svc.settings.policy
    return {a.id for a in await svc.accounts.list_all() if covers(policy, principal, a.unit)}


async def list_for(svc: Services, principal: Principal, filters: Filters) -> list[Alert]:
    """The alerts ``principal`` may read that match ``filters``, newest first."""
    accounts = await visible_accounts(svc, principal)
    return await store(svc).list(
        account=filters.account,
        state=filters.state,
        kind=filters.kind,
        accounts=accounts,
        since=filters.since,
        until=filters.until,
        limit=min(filters.limit, MAX_LIST),
        offset=filters.offset,
    )


async def get_for(svc: Services, principal: Principal, alert_id: str) -> Alert:
    """One alert, or 404 when there is none or it is outside the caller's units."""
    alert = await store(svc).get(alert_id)
    if alert is not None:
        accounts = await visible_accounts(svc, principal)
        if accounts is None or alert.account in accounts:
            return alert
    raise NotFound(f"no alert {alert_id!r}")


def _text(value: str, name: str) -> str:
    value = value.strip()
    if not value:
        raise field_error(name, "must not be empty")
    if len(value) > MAX_NOTE_CHARS:
        raise field_error(name, f"longer than {MAX_NOTE_CHARS} characters")
    return value


def _may_handle(principal: Principal) -> None:
    if principal.role not in HANDLERS:
        raise Forbidden(f"{principal.role} may not act on alerts", reason="wrong_role")


def _must_be_open(alert: Alert) -> None:
    if alert.state != "open":
        raise Conflict(
            f"alert {alert.id} is already {alert.state}", reason="not_open", state=alert.state
        )


async def _audit(svc: Services, actor: Actor, action: str, alert: Alert, **more: Any) -> None:
    try:
        await svc.audit.append(actor=actor, action=action, target=alert.id, **more)
    except Exception:
        svc.metrics.audit_failures.inc()
        raise


def _about(alert: Alert, via: str) -> dict[str, Any]:
    return {
        "account": alert.account,
        "kind": alert.kind,
        "platform_id": alert.platform_id,
        "via": via,
    }


async def acknowledge(
    svc: Services,
    principal: Principal,
    alert_id: str,
    note: str,
    *,
    request_id: str = "",
    via: str = "api",
) -> Alert:
    """Brand-PR has seen the alert and says why nothing more is needed (``note``)."""
    _may_handle(principal)
    note = _text(note, "note")
    alert = await get_for(svc, principal, alert_id)
    _must_be_open(alert)
    await _audit(
        svc,
        actor_of(principal),
        "alert.acknowledged",
        alert,
        decision="acknowledged",
        reasons=[note],
        request_id=request_id,
        details=_about(alert, via),
    )
    return await store(svc).close(alert.id, "acknowledged", by=principal.id, note=note)


async def freeze(
    svc: Services,
    principal: Principal,
    alert_id: str,
    reason: str,
    *,
    request_id: str = "",
    via: str = "api",
) -> tuple[Alert, FreezeRecord]:
    """Freeze the alert's account (nothing more goes out through it, approved jobs included)
    and mark the alert ``frozen``."""
    _may_handle(principal)
    reason = _text(reason, "reason")
    alert = await get_for(svc, principal, alert_id)
    _must_be_open(alert)
    actor = actor_of(principal)
    await _audit(
        svc,
        actor,
        "alert.frozen",
        alert,
        decision="frozen",
        reasons=[reason],
        request_id=request_id,
        details={**_about(alert, via), "freeze": f"account:{alert.account}"},
    )
    record = await freeze_audited(
        svc,
        actor,
        "account",
        alert.account,
        reason=reason,
        request_id=request_id,
        details={"alert": alert.id, "via": via},
    )
    closed = await store(svc).close(alert.id, "frozen", by=principal.id, note=reason)
    return closed, record


async def audit_trail(svc: Services, alert: Alert) -> list[dict[str, Any]]:
    """The audit records about ``alert``: the one written when it was raised (``audit_seq``)
    and those naming it (acknowledged, frozen, the freeze it caused), oldest first. Reads from
    shortly before the alert was detected, at most :data:`MAX_AUDIT_SCAN` records."""
    found: list[dict[str, Any]] = []
    last = max(alert.detected_at, alert.acted_at)
    scanned = 0
    records: AsyncIterator[tuple[str, dict[str, Any]]] = svc.audit.records(
        since_ts=max(alert.detected_at - 60, 0.001)
    )
    async for _, record in records:
        scanned += 1
        details = record.get("details") or {}
        if (
            (alert.audit_seq and record.get("seq") == alert.audit_seq)
            or record.get("target") == alert.id
            or (isinstance(details, dict) and details.get("alert") == alert.id)
        ):
            found.append(record)
        if scanned >= MAX_AUDIT_SCAN or float(record.get("ts", 0)) > last + 60:
            break
    return found
