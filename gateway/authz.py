"""Who may act for which unit: the organisation tree of the policy (Art. 5, 6, 10)."""

from __future__ import annotations

from gateway.errors import Forbidden
from gateway.principals import Principal
from gateway.settings import Policy

# Roles that act across every unit.
GLOBAL_ROLES = frozenset({"brand_pr", "admin", "auditor"})


def unit_chain(policy: Policy, unit_id: str) -> list[str]:
    """``unit_id`` and its ancestors, nearest first."""
    chain, seen = [], set()
    current: str | None = unit_id
    while current and current not in seen:
        seen.add(current)
        chain.append(current)
        unit = policy.units.get(current)
        current = unit.parent if unit else None
    return chain


def covers(policy: Policy, principal: Principal, unit_id: str) -> bool:
    """True if ``principal`` may act for ``unit_id`` (its own unit or a unit below it)."""
    if principal.role in GLOBAL_ROLES:
        return True
    return principal.unit in unit_chain(policy, unit_id)


def route_up(policy: Policy, own_unit: str, target_unit: str) -> bool:
    """True when ``own_unit`` sends content up to ``target_unit``, a company (HQ) unit above it
    (Art. 17(1), the hub of Art. 3, 5: "统一归口")."""
    target = policy.units.get(target_unit)
    return bool(
        target
        and target.kind == "hq"
        and own_unit != target_unit
        and own_unit in policy.units
        and target_unit in unit_chain(policy, own_unit)
    )


def require_unit(policy: Policy, principal: Principal, unit_id: str, what: str) -> None:
    if not covers(policy, principal, unit_id):
        raise Forbidden(
            f"{principal.role} of unit {principal.unit!r} may not {what} for unit {unit_id!r}",
            reason="wrong_unit",
        )
