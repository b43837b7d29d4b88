"""Who must approve what (gateway/requirements.py), rule by rule, table-driven on the shipped
policy (config/policy.toml): units hq, brand_pr, strategy_dept (departments of HQ), sub_east,
sub_west (subsidiaries)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.accounts import Account
from gateway.principals import Principal
from gateway.requirements import EXTERNAL_CONFIRMATION, Requirement, required_approvals
from gateway.settings import Policy, Unit, load_settings
from screening.findings import Finding

POLICY = load_settings(environ={}).policy


def _finding(category: str, action: str = "review", text: str = "x") -> Finding:
    return Finding(
        detector="test",
        rule=f"test:{category}",
        category=category,
        severity="medium",
        action=action,  # type: ignore[arg-type]
        field="content",
        start=0,
        end=len(text),
        text=text,
    )


def _needs(
    account_unit: str,
    submitter_unit: str,
    category: str = "news",
    findings: tuple[str, ...] = (),
    policy: Policy = POLICY,
    submitter_role: str = "editor",
) -> list[Requirement]:
    return required_approvals(
        policy=policy,
        account=Account(id="acc", platform="wechat", name="acc", unit=account_unit),
        submitter=Principal(id="p", name="p", role=submitter_role, unit=submitter_unit),
        post_category=category,
        findings=[_finding(c) for c in findings],
    )


CASES = [
    # Art. 17(1): subsidiary platforms — the head of that subsidiary
    ("subsidiary", "sub_east", "sub_east", "news", (), ["unit_head@sub_east"]),
    ("other subsidiary", "sub_west", "sub_west", "news", (), ["unit_head@sub_west"]),
    # Art. 17(1): company platforms — the submitting department's head, then Brand-PR
    (
        "hq by strategy dept",
        "hq",
        "strategy_dept",
        "news",
        (),
        ["unit_head@strategy_dept", "brand_pr"],
    ),
    ("hq by brand_pr dept", "hq", "brand_pr", "news", (), ["unit_head@brand_pr", "brand_pr"]),
    ("hq by hq itself", "hq", "hq", "news", (), ["unit_head@hq", "brand_pr"]),
    (
        "department account",
        "strategy_dept",
        "strategy_dept",
        "company",
        (),
        ["unit_head@strategy_dept", "brand_pr"],
    ),
    # Art. 12(4): category other needs the leader
    ("other", "sub_east", "sub_east", "other", (), ["unit_head@sub_east", "leader"]),
    ("culture", "sub_east", "sub_east", "culture", (), ["unit_head@sub_east"]),
    # Art. 14: leader and Brand-PR
    *[
        (c, "sub_east", "sub_east", "news", (c,), ["unit_head@sub_east", "leader", "brand_pr"])
        for c in ("financial", "strategy", "reform", "sensitive")
    ],
    # Art. 17(2)
    (
        "executive",
        "sub_east",
        "sub_east",
        "news",
        ("executive",),
        ["unit_head@sub_east", "brand_pr"],
    ),
    (
        "outsider",
        "sub_east",
        "sub_east",
        "news",
        ("outsider_quote",),
        ["unit_head@sub_east", f"brand_pr+{EXTERNAL_CONFIRMATION}"],
    ),
    # classifier review and personal data go to Brand-PR
    (
        "classifier",
        "sub_east",
        "sub_east",
        "news",
        ("classifier",),
        ["unit_head@sub_east", "brand_pr"],
    ),
    ("pii", "sub_east", "sub_east", "news", ("pii",), ["unit_head@sub_east", "brand_pr"]),
    # a review finding of a category the policy does not know still needs Brand-PR
    (
        "unknown review",
        "sub_east",
        "sub_east",
        "news",
        ("new_cat",),
        ["unit_head@sub_east", "brand_pr"],
    ),
    # everything at once merges into one requirement per role
    (
        "all together",
        "hq",
        "strategy_dept",
        "other",
        ("financial", "executive", "outsider_quote", "reform"),
        ["unit_head@strategy_dept", "leader", f"brand_pr+{EXTERNAL_CONFIRMATION}"],
    ),
]


@pytest.mark.parametrize(
    ("account_unit", "submitter_unit", "category", "findings", "labels"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_required_approvals(
    account_unit: str,
    submitter_unit: str,
    category: str,
    findings: tuple[str, ...],
    labels: list[str],
) -> None:
    needs = _needs(account_unit, submitter_unit, category, findings)
    assert [r.label() for r in needs] == labels
    assert all(r.reasons for r in needs)


def test_blocking_and_warning_findings_add_no_approver() -> None:
    """Blocked content is refused by the gate whatever approvals it has; warnings need none."""
    needs = required_approvals(
        policy=POLICY,
        account=Account(id="a", platform="wechat", name="a", unit="sub_east"),
        submitter=Principal(id="p", name="p", role="editor", unit="sub_east"),
        post_category="news",
        findings=[_finding("state_secret", "block"), _finding("advertising", "warn")],
    )
    assert [r.label() for r in needs] == ["unit_head@sub_east"]


def test_reasons_name_the_article_and_the_finding() -> None:
    needs = required_approvals(
        policy=POLICY,
        account=Account(id="a", platform="wechat", name="a", unit="sub_east"),
        submitter=Principal(id="p", name="p", role="editor", unit="sub_east"),
        post_category="other",
        findings=[
            _finding("financial", text="5.2亿元"),
            _finding("executive", text="王建国"),
            _finding("outsider_quote", text="张明"),
        ],
    )
    by_role = {r.role: r for r in needs}
    assert by_role["unit_head"].reasons[0].startswith("Art. 17(1): subsidiary platform")
    leader = " | ".join(by_role["leader"].reasons)
    assert "Art. 12(4)" in leader
    assert "Art. 14: financial: '5.2亿元'" in leader
    brand_pr = " | ".join(by_role["brand_pr"].reasons)
    assert "Art. 14: financial" in brand_pr
    assert "Art. 17(2): names a director, supervisor or executive" in brand_pr
    assert "'王建国'" in brand_pr
    assert "quotes a person outside the company" in brand_pr
    assert by_role["brand_pr"].attest == EXTERNAL_CONFIRMATION
    assert by_role["brand_pr"].public()["attest"] == EXTERNAL_CONFIRMATION


def test_a_department_inside_a_subsidiary_belongs_to_that_subsidiary() -> None:
    """Accounts of units below a subsidiary are subsidiary platforms: the subsidiary's head."""
    units = {
        **POLICY.units,
        "east_news": Unit(
            id="east_news", name="华东新闻中心", kind="department", parent="sub_east"
        ),
    }
    policy = replace(POLICY, units=units)
    needs = _needs("east_news", "east_news", policy=policy)
    assert [r.label() for r in needs] == ["unit_head@sub_east"]


def test_requirements_are_ordered_head_leader_brand_pr() -> None:
    needs = _needs("hq", "strategy_dept", "other", ("executive",))
    assert [r.role for r in needs] == ["unit_head", "leader", "brand_pr"]


@pytest.mark.parametrize("category", ["political", "vulgar_review", "violence_contraband_review"])
def test_sensitive_content_is_brand_pr_review_with_art_21_2(category: str) -> None:
    # issue #12: Art. 21(2) content is Brand-PR's review with the reason, not a block
    needs = _needs("sub_east", "sub_east", findings=(category,))
    brand_pr = [r for r in needs if r.role == "brand_pr"]
    assert brand_pr, needs
    assert any(reason.startswith("Art. 21(2):") for reason in brand_pr[0].reasons)
