"""From findings to a decision, per policy rules keyed by category.

Any finding whose effective action is ``block`` blocks; otherwise any ``review`` finding asks for
review by the union of its rules' required roles; ``warn`` findings alone pass. A category without
a rule is reviewed by Brand-PR (fail towards review, never towards pass).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from screening.findings import Action, Finding

logger = logging.getLogger(__name__)

Decision = Literal["pass", "review", "block"]


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """What findings of one category do: ``require`` lists roles when ``action == "review"``."""

    action: Action
    require: tuple[str, ...] = ()


UNKNOWN_CATEGORY_RULE = CategoryRule("review", ("brand_pr",))
LEADER_AND_PR = ("leader", "brand_pr")

#: Defaults used when the gateway does not pass its own policy (docs/screening.md, "Policy"):
#: block only what may never be published whatever the approvals; major sensitive current
#: affairs (Art. 21(2)) and terms that also occur in ordinary prose are Brand-PR's review.
DEFAULT_RULES: Mapping[str, CategoryRule] = {
    "state_secret": CategoryRule("block"),
    "commercial_secret": CategoryRule("block"),
    "political": CategoryRule("review", ("brand_pr",)),
    "political_evasion": CategoryRule("block"),
    "vulgar": CategoryRule("block"),
    "vulgar_review": CategoryRule("review", ("brand_pr",)),
    "violence_contraband": CategoryRule("block"),
    "violence_contraband_review": CategoryRule("review", ("brand_pr",)),
    "state_leader": CategoryRule("warn"),
    "financial": CategoryRule("review", LEADER_AND_PR),
    "strategy": CategoryRule("review", LEADER_AND_PR),
    "reform": CategoryRule("review", LEADER_AND_PR),
    "sensitive": CategoryRule("review", LEADER_AND_PR),
    "executive": CategoryRule("review", ("brand_pr",)),
    "outsider_quote": CategoryRule("review", ("brand_pr",)),
    "pii": CategoryRule("review", ("brand_pr",)),
    "advertising": CategoryRule("review", ("brand_pr",)),
    "classifier": CategoryRule("review", ("brand_pr",)),
}

_STRICTNESS = {"warn": 0, "review": 1, "block": 2}


def capped(action: Action, finding: Finding) -> Action:
    """``action`` after the limits a detector put on ``finding``: a downgraded finding only
    warns, and one capped at review (a homophone, a doubled character) never blocks."""
    if finding.evidence.get("downgraded"):
        return "warn"
    if finding.evidence.get("capped_at_review") and action == "block":
        return "review"
    return action


def effective(finding: Finding, rules: Mapping[str, CategoryRule]) -> tuple[Finding, CategoryRule]:
    """The finding with the action its category rule gives it.

    A finding downgraded by a detector (``evidence["downgraded"]``) stays ``warn``. A category
    without a rule keeps the finding's own action if that is ``block`` (a new lexicon declared it
    so), else it is reviewed by Brand-PR.
    """
    rule = rules.get(finding.category)
    if rule is None:
        rule = CategoryRule("block") if finding.action == "block" else UNKNOWN_CATEGORY_RULE
    action = capped(rule.action, finding)
    if action == "review" and rule.action == "block" and not rule.require:
        rule = CategoryRule("review", ("brand_pr",))
    if action != finding.action:
        finding = replace(finding, action=action)
    return finding, rule


def decide(
    findings: Iterable[Finding], rules: Mapping[str, CategoryRule]
) -> tuple[tuple[Finding, ...], Decision, tuple[str, ...]]:
    """Findings with effective actions, the decision, and the roles a review needs."""
    out: list[Finding] = []
    roles: dict[str, None] = {}
    worst = 0
    for f in findings:
        f2, rule = effective(f, rules)
        out.append(f2)
        worst = max(worst, _STRICTNESS[f2.action])
        if f2.action == "review":
            roles.update(dict.fromkeys(rule.require or ("brand_pr",)))
    decision: Decision = "block" if worst == 2 else "review" if worst == 1 else "pass"
    return tuple(out), decision, tuple(roles) if decision == "review" else ()
