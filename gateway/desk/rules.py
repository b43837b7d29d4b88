"""The desk's rules as pure functions: who reads, who is asked, what an approval meets.

Kept apart from the service so that the inbox, the decisions and the console agree on one
answer to "is this principal the approver asked for here?".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from gateway.authz import covers
from gateway.desk.model import ApprovalEntry, RequiredApproval, Submission
from gateway.errors import Conflict, Forbidden
from gateway.gate import acts_for
from gateway.principals import Principal
from gateway.requirements import Requirement
from gateway.settings import Policy

APPROVER_ROLES = frozenset({"unit_head", "brand_pr", "leader"})
#: Roles that read every submission (Brand-PR governs; auditors and admins inspect).
READ_ALL_ROLES = frozenset({"brand_pr", "auditor", "admin"})


def in_scope(policy: Policy, principal: Principal, sub: Submission) -> bool:
    """An approver whose unit covers one of the submission's accounts, or, on the route up to
    a company account (Art. 17(1)), the sending unit: a subsidiary's head sees what its own
    editors send up to HQ, not what other units send."""
    if principal.role not in APPROVER_ROLES:
        return False
    return any(covers(policy, principal, unit) for unit in sub.units) or (
        covers(policy, principal, sub.submitter_unit)
        and any(acts_for(policy, principal, unit) for unit in sub.units)
    )


def may_read(policy: Policy, principal: Principal, sub: Submission) -> bool:
    return (
        principal.id == sub.submitted_by
        or principal.role in READ_ALL_ROLES
        or in_scope(policy, principal, sub)
    )


def matching(policy: Policy, principal: Principal, sub: Submission) -> list[RequiredApproval]:
    """The still open requirements this principal can meet (role, unit, scope)."""
    units = dict(zip(sub.accounts, sub.units, strict=True))
    return [
        r
        for r in sub.outstanding
        if r.role == principal.role
        and (not r.unit or r.unit == principal.unit)
        and any(acts_for(policy, principal, units[a]) for a in r.accounts)
        and in_scope(policy, principal, sub)
    ]


def require_match(policy: Policy, principal: Principal, sub: Submission) -> list[RequiredApproval]:
    """:func:`matching`, or 403 saying whether the role or the unit is wrong."""
    wanted = matching(policy, principal, sub)
    if wanted:
        return wanted
    needed = ", ".join(r.label for r in sub.outstanding) or "nothing more"
    if any(r.role == principal.role for r in sub.outstanding):
        raise Forbidden(
            f"{principal.role} of {principal.unit} is not the approver asked for here; "
            f"still needed: {needed}",
            reason="wrong_unit",
        )
    raise Forbidden(
        f"no approval of a {principal.role} is needed here; still needed: {needed}",
        reason="wrong_role",
    )


def approved_by(current: Submission, approval: ApprovalEntry, now: float) -> Submission:
    """``current`` with ``approval`` added; ``approved`` once every requirement is met."""
    required = tuple(
        replace(r, satisfied_by=approval.by) if not r.satisfied_by and meets(r, approval) else r
        for r in current.required
    )
    current = replace(current, required=required, approvals=(*current.approvals, approval))
    note = f"{approval.role} {approval.name or approval.by} ({approval.source})"
    if all(r.satisfied_by for r in required):
        waits = bool(current.publish_at and current.publish_at > now)
        note += "; approvals complete" + ("; waits for publish_at" if waits else "")
        return current.moved("approved", now, "approved", approval.by, note)
    return current.moved("awaiting_approval", now, "approval", approval.by, note)


def merge_required(per_account: dict[str, list[Requirement]]) -> tuple[RequiredApproval, ...]:
    merged: dict[tuple[str, str, str], RequiredApproval] = {}
    for account_id, reqs in per_account.items():
        for r in reqs:
            key = (r.role, r.unit, r.attest)
            old = merged.get(key)
            if old is None:
                merged[key] = RequiredApproval(r.role, r.unit, r.attest, r.reasons, (account_id,))
            else:
                merged[key] = replace(
                    old,
                    reasons=tuple(dict.fromkeys((*old.reasons, *r.reasons))),
                    accounts=(*old.accounts, account_id),
                )
    return tuple(merged.values())


def as_requirement(r: RequiredApproval) -> Requirement:
    return Requirement(r.role, r.unit, r.attest, r.reasons)


def meets(r: RequiredApproval, a: ApprovalEntry) -> bool:
    return (
        r.role == a.role
        and (not r.unit or r.unit == a.unit)
        and (not r.attest or r.attest in a.attest)
        and bool(set(r.accounts) & set(a.accounts))
    )


def decided_by(sub: Submission, principal_id: str) -> bool:
    return any(d.by == principal_id for d in sub.decisions)


def require_state(sub: Submission, states: Iterable[str], what: str) -> None:
    allowed = tuple(states)
    if sub.state not in allowed:
        raise Conflict(
            f"submission {sub.id} is {sub.state}; it can be {what} only when "
            f"{' / '.join(sorted(allowed))}",
            reason="wrong_state",
            state=sub.state,
        )
