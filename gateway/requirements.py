"""Who must approve a post for one account, and why (Art. 12, 14, 17; docs/approvals.md).

The answer is a list of :class:`Requirement`: a role, optionally the unit the approver must
belong to, optionally an attestation the approval must carry, and the reasons (article and the
findings behind it) so a refusal can say exactly what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.accounts import Account
from gateway.authz import route_up, unit_chain
from gateway.principals import Principal
from gateway.settings import Policy
from screening.findings import Finding

EXTERNAL_CONFIRMATION = "external_confirmation"


@dataclass(frozen=True)
class Requirement:
    role: str
    unit: str = ""  # the approver must belong to this unit ("" = any unit)
    attest: str = ""  # the approval must carry this attestation
    reasons: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.role, self.unit)

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "reasons": list(self.reasons)}
        if self.unit:
            data["unit"] = self.unit
        if self.attest:
            data["attest"] = self.attest
        return data

    def label(self) -> str:
        label = f"{self.role}@{self.unit}" if self.unit else self.role
        return f"{label}+{self.attest}" if self.attest else label


def _owning_subsidiary(policy: Policy, unit_id: str) -> str:
    for unit in unit_chain(policy, unit_id):
        info = policy.units.get(unit)
        if info and info.kind == "subsidiary":
            return unit
    return ""


def _merge(items: Iterable[Requirement]) -> list[Requirement]:
    merged: dict[tuple[str, str], Requirement] = {}
    for item in items:
        old = merged.get(item.key)
        if old is None:
            merged[item.key] = item
            continue
        reasons = tuple(dict.fromkeys((*old.reasons, *item.reasons)))
        merged[item.key] = Requirement(item.role, item.unit, old.attest or item.attest, reasons)
    order = {"unit_head": 0, "leader": 1, "brand_pr": 2}
    return sorted(merged.values(), key=lambda r: (order.get(r.role, 9), r.role, r.unit))


def _company_head_unit(policy: Policy, account: Account, submitter: Principal) -> str:
    """Whose head approves for a company (not subsidiary) platform (Art. 17(1))."""
    submitting_unit = policy.units.get(submitter.unit)
    if route_up(policy, submitter.unit, account.unit):
        # the route up: the sending unit's own head (its subsidiary's, below a subsidiary)
        return _owning_subsidiary(policy, submitter.unit) or submitter.unit
    if submitting_unit and submitting_unit.kind == "department":
        return submitter.unit
    return account.unit


def required_approvals(
    *,
    policy: Policy,
    account: Account,
    submitter: Principal,
    post_category: str,
    findings: Sequence[Finding],
) -> list[Requirement]:
    """Every approval the post needs before it may go to ``account``."""
    needs: list[Requirement] = []
    subsidiary = _owning_subsidiary(policy, account.unit)
    if subsidiary:
        needs.append(
            Requirement(
                "unit_head",
                subsidiary,
                reasons=(f"Art. 17(1): subsidiary platform; the head of {subsidiary} approves",),
            )
        )
    else:
        head_unit = _company_head_unit(policy, account, submitter)
        needs.append(
            Requirement(
                "unit_head",
                head_unit,
                reasons=(f"Art. 17(1): company platform; the head of {head_unit} approves",),
            )
        )
        needs.append(
            Requirement("brand_pr", reasons=("Art. 17(1): company platform; Brand-PR publishes",))
        )
    post_rule = policy.post_categories.get(post_category)
    if post_rule:
        for role in post_rule.require:
            needs.append(
                Requirement(
                    role, reasons=(f"Art. 12(4): category '{post_category}' needs {role} approval",)
                )
            )
    needs.extend(_finding_needs(policy, findings))
    return _merge(needs)


def _finding_needs(policy: Policy, findings: Sequence[Finding]) -> list[Requirement]:
    """The approvals screening findings of action ``review`` ask for (posts and interactions)."""
    needs: list[Requirement] = []
    for finding in findings:
        if finding.action != "review":
            continue
        rule = policy.categories.get(finding.category)
        roles = rule.require if rule else ("brand_pr",)
        why = f"{finding.category}: '{finding.text}' in {finding.field} ({finding.rule})"
        if finding.category in ("strategy", "reform", "financial", "sensitive"):
            why = "Art. 14: " + why
        elif finding.category in ("political", "vulgar_review", "violence_contraband_review"):
            why = "Art. 21(2): sensitive content for Brand-PR to judge in context: " + why
        elif finding.category == "executive":
            why = "Art. 17(2): names a director, supervisor or executive: " + why
        for role in roles:
            attest = (
                EXTERNAL_CONFIRMATION
                if finding.category == "outsider_quote" and role == "brand_pr"
                else ""
            )
            if attest:
                why = (
                    "Art. 17(2): quotes a person outside the company; Brand-PR records "
                    "their organisation's confirmation: " + why
                )
            needs.append(Requirement(role, attest=attest, reasons=(why,)))
    return needs


def interaction_approvals(
    *,
    policy: Policy,
    account: Account,
    submitter: Principal,
    kind: str,
    findings: Sequence[Finding],
) -> list[Requirement]:
    """Every approval a comment, reply, repost or comment switch needs on ``account`` (Art. 22;
    the ``[interactions]`` policy, docs/interactions.md), findings included."""
    rules = policy.interactions
    operator = bool({submitter.id, submitter.name} & set(account.operators))
    if kind in ("comment", "reply"):
        roles = rules.comment_by_operator if operator else rules.comment_by_other
        why = (
            f"Art. 22: a {kind} by a named operator of {account.id}"
            if operator
            else f"Art. 22: a {kind} by someone who is not a named operator of {account.id}"
        )
    else:
        roles = {
            "repost": rules.repost,
            "comments_open": rules.comments_open,
            "comments_close": rules.comments_close,
        }.get(kind, ("brand_pr",))
        why = f"Art. 22: {kind.replace('_', ' ')} on {account.id}"
    # the head who would approve a post there: the subsidiary's, or on a company platform the
    # submitting department's (Art. 17(1))
    head_unit = _owning_subsidiary(policy, account.unit) or _company_head_unit(
        policy, account, submitter
    )
    needs = [
        Requirement(role, head_unit if role == "unit_head" else "", reasons=(why,))
        for role in roles
    ]
    needs.extend(_finding_needs(policy, findings))
    return _merge(needs)
