"""Decision from findings and category rules."""

from __future__ import annotations

import pytest

from screening.decision import DEFAULT_RULES, CategoryRule, decide
from screening.findings import Action, Finding
from screening.pipeline import merge_overlaps


def _f(category: str, action: Action = "block", **evidence: object) -> Finding:
    return Finding(
        "lexicon", f"r:{category}", category, "high", action, "content", 0, 1, "x", evidence
    )


@pytest.mark.parametrize(
    ("findings", "decision", "roles"),
    [
        ([], "pass", ()),
        ([_f("political")], "review", ("brand_pr",)),  # Art. 21(2): review (issue #12)
        ([_f("political_evasion")], "block", ()),
        ([_f("state_leader")], "pass", ()),
        ([_f("financial", "review")], "review", ("leader", "brand_pr")),
        ([_f("executive", "review"), _f("pii", "review")], "review", ("brand_pr",)),
        ([_f("financial", "review"), _f("vulgar")], "block", ()),
        ([_f("political", "warn", downgraded="jieba")], "pass", ()),
        ([_f("brand_new", "review")], "review", ("brand_pr",)),
        ([_f("brand_new", "block")], "block", ()),
        ([_f("political", capped_at_review="homophone")], "review", ("brand_pr",)),
    ],
)
def test_decide(findings: list[Finding], decision: str, roles: tuple[str, ...]) -> None:
    out, got, got_roles = decide(findings, DEFAULT_RULES)
    assert got == decision
    assert set(got_roles) == set(roles)
    assert len(out) == len(findings)


def test_policy_overrides_lexicon_action() -> None:
    rules = {"advertising": CategoryRule("warn")}
    out, decision, _ = decide([_f("advertising", "review")], rules)
    assert decision == "pass" and out[0].action == "warn"


def _at(category: str, start: int, end: int, action: Action = "block", **ev: object) -> Finding:
    return Finding(
        "lexicon",
        f"r:{category}:{start}",
        category,
        "high",
        action,
        "content",
        start,
        end,
        "x" * (end - start),
        ev,
    )


@pytest.mark.parametrize(
    ("outer", "inner", "inner_kept"),
    [
        # a blocking finding makes what lies strictly inside it redundant
        (_at("political", 0, 4), _at("political", 1, 3), False),
        (_at("political", 0, 4), _at("vulgar", 1, 3), False),
        # a finding the decision will cap at review hides no blocking finding inside it
        (_at("political", 0, 4, capped_at_review="doubled"), _at("political", 1, 3), True),
        (_at("political", 0, 4, capped_at_review="homophone"), _at("vulgar", 1, 3), True),
        # ... but still the review-level ones of its own category
        (
            _at("political", 0, 4, capped_at_review="doubled"),
            _at("political", 1, 3, "review"),
            False,
        ),
    ],
)
def test_merge_overlaps_ranks_capped_findings_as_review(
    outer: Finding, inner: Finding, inner_kept: bool
) -> None:
    kept = merge_overlaps([outer, inner])
    assert outer in kept
    assert (inner in kept) == inner_kept
