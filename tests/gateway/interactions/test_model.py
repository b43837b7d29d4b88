"""The interaction hash and the ``[interactions]`` approvals policy, without a store."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.accounts import Account
from gateway.interactions.model import InteractionRequest, Target
from gateway.principals import Principal
from gateway.requirements import interaction_approvals
from gateway.settings import InteractionPolicy, SettingsError, load_policy, load_settings
from screening.findings import Finding

BASE = InteractionRequest("east-weibo", "comment", Target(platform_id="4900000000000001"), "好")


def _hash(**changes: object) -> str:
    return dataclasses.replace(BASE, **changes).content_sha256  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Cafe\u0301", "Café"),  # canonically equivalent: one hash
        ("\u1100\u1161", "\uac00"),  # Hangul jamo vs precomposed
        ("謹賀新年\u3000", "謹賀新年\u3000"),
    ],
)
def test_nfc_equivalent_texts_hash_the_same(a: str, b: str) -> None:
    assert _hash(text=a) == _hash(text=b)


@pytest.mark.parametrize(
    "changes",
    [
        {"text": "好！"},
        {"text": "好 "},  # white space is content
        {"text": "好\u200b"},  # a zero-width space is content too
        {"account": "ops-weibo"},
        {"kind": "reply"},
        {"target": Target(platform_id="4900000000000002")},
        {"target": Target(post="job_1")},
        {"target": Target(platform_id="4900000000000001", comment_id="1")},
        {"target": Target(msg_data_id="4900000000000001")},
        {"target": Target(msg_data_id="1", index=0)},
    ],
)
def test_any_change_changes_the_hash(changes: dict[str, object]) -> None:
    assert _hash(**changes) != BASE.content_sha256


def test_an_interaction_never_hashes_like_a_post() -> None:
    assert BASE.canonical()["type"] == "interaction"
    assert len(BASE.content_sha256) == 64


def _account(operators: tuple[str, ...] = ("王芳",), unit: str = "sub_east") -> Account:
    return Account("east-weibo", "weibo", "华东微博", unit, "active", operators)


EDITOR = Principal("p_editor", "王芳", "editor", "sub_east")
OTHER = Principal("p_other", "李雷", "editor", "sub_east")
FINANCIAL = Finding(
    detector="financial",
    rule="figure",
    category="financial",
    severity="high",
    action="review",
    field="text",
    start=0,
    end=3,
    text="营收23%",
)


@pytest.mark.parametrize(
    ("kind", "submitter", "findings", "roles"),
    [
        ("comment", EDITOR, (), []),
        ("reply", EDITOR, (), []),
        ("comment", OTHER, (), ["unit_head@sub_east"]),
        ("reply", OTHER, (), ["unit_head@sub_east"]),
        ("repost", EDITOR, (), ["unit_head@sub_east"]),
        ("comments_open", EDITOR, (), ["unit_head@sub_east"]),
        ("comments_close", OTHER, (), []),
        ("comment", EDITOR, (FINANCIAL,), ["leader", "brand_pr"]),
        ("repost", OTHER, (FINANCIAL,), ["unit_head@sub_east", "leader", "brand_pr"]),
    ],
)
def test_default_policy(
    kind: str, submitter: Principal, findings: tuple[Finding, ...], roles: list[str]
) -> None:
    policy = load_settings(environ={}).policy
    needs = interaction_approvals(
        policy=policy, account=_account(), submitter=submitter, kind=kind, findings=findings
    )
    assert [r.label() for r in needs] == roles
    assert all(r.reasons for r in needs)


def test_operator_named_by_principal_id_counts_too() -> None:
    policy = load_settings(environ={}).policy
    needs = interaction_approvals(
        policy=policy,
        account=_account(operators=("p_other",)),
        submitter=OTHER,
        kind="comment",
        findings=(),
    )
    assert needs == []


def test_a_stricter_policy_is_applied() -> None:
    policy = dataclasses.replace(
        load_settings(environ={}).policy,
        interactions=InteractionPolicy(comment_by_operator=("brand_pr",)),
    )
    needs = interaction_approvals(
        policy=policy, account=_account(), submitter=EDITOR, kind="comment", findings=()
    )
    assert [r.label() for r in needs] == ["brand_pr"]


def test_an_unknown_role_in_the_policy_stops_start_up(tmp_path: object) -> None:
    from pathlib import Path

    from gateway.settings import _config_dir

    text = (_config_dir() / "policy.toml").read_text()
    bad = Path(str(tmp_path)) / "policy.toml"
    bad.write_text(text.replace('repost = ["unit_head"]', 'repost = ["editor"]'))
    with pytest.raises(SettingsError, match=r"interactions\.repost"):
        load_policy(bad)


@pytest.mark.parametrize(
    ("submitter", "account_unit", "head"),
    [
        (OTHER, "sub_east", "unit_head@sub_east"),  # a subsidiary's platform: its head
        (Principal("p_pr", "周敏", "brand_pr", "brand_pr"), "hq", "unit_head@brand_pr"),
        (Principal("p_st", "孙立", "editor", "strategy_dept"), "hq", "unit_head@strategy_dept"),
    ],
)
def test_the_head_is_the_one_who_would_approve_a_post_there(
    submitter: Principal, account_unit: str, head: str
) -> None:
    """On HQ's own platforms the submitting department's head approves (Art. 17(1))."""
    policy = load_settings(environ={}).policy
    needs = interaction_approvals(
        policy=policy,
        account=_account(operators=(), unit=account_unit),
        submitter=submitter,
        kind="comment",
        findings=(),
    )
    assert [r.label() for r in needs] == [head]
