"""End to end through the publish gate: the demo organisation walks every rule of the Measures.

An editor drafts, screens (``POST /v1/screen``), collects approvals from the right people
(``POST /v1/approvals``) and publishes (``POST /v1/posts``); each way a publish must be refused
is refused with its own machine-readable reason, and every attempt is in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.appkeys import SERVICES
from gateway.jws import TOKEN_TYP
from gateway.settings import IssuerSettings, Settings
from tests.gateway.conftest import SIGNING_PEM, Caller, MakeClient
from tests.gateway.gate_support import (
    EAST,
    EXECUTIVE,
    FINANCIAL,
    HQ,
    OUTSIDER,
    PLAIN,
    REFORM_TEXT,
    SECRET,
    SENSITIVE_TEXT,
    STRATEGY,
    STRATEGY_TEXT,
    WEST,
    Org,
    b64url,
    draft,
    forge,
    problem,
    ring_kid,
    start_org,
)


@pytest.fixture
async def org(make_client: MakeClient, settings: Settings, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


async def _last_publish_record(org: Org) -> dict[str, Any]:
    records = [r for r in await org.audit() if r["action"] in ("post.publish", "post.update")]
    assert records, "no publish attempt in the audit log"
    return records[-1]


# --- the happy path, step by step ------------------------------------------------------------


async def test_editor_drafts_screens_collects_approval_and_publishes(org: Org) -> None:
    post = draft(PLAIN)
    screened = await org.screen("editor", post, EAST)
    assert screened["decision"] == "pass"
    assert screened["required_roles"] == ["unit_head"]
    assert screened["required_approvals"][0]["unit"] == "sub_east"
    assert "Art. 17(1)" in screened["required_approvals"][0]["reasons"][0]
    digest = await org.content_hash(post)
    assert screened["content_sha256"] == digest

    token = await org.approve("unit_head", post, [EAST])
    resp = await org.publish("editor", EAST, post, [token])
    assert resp.status == 202, await resp.text()
    job = await resp.json()
    assert job["state"] == "approved"
    assert job["account"] == EAST
    assert job["content_sha256"] == digest
    assert [a["role"] for a in job["approvals"]] == ["unit_head"]

    resp = await org.client.get(job["post_url"], headers=org["editor"].headers)
    assert resp.status == 200
    assert (await resp.json())["state"] == "approved"

    record = await _last_publish_record(org)
    assert record["result"] == "ok"
    assert record["decision"] == "approved"
    assert record["content_sha256"] == digest
    assert record["details"]["job"] == job["id"]
    assert record["actor"]["id"] == org["editor"].id
    issued = [r for r in await org.audit() if r["action"] == "approval.approve"]
    assert issued and issued[-1]["actor"]["id"] == org["unit_head"].id


# --- who must approve what: one row per rule --------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    submitter: str
    account: str
    content: str
    approvers: tuple[tuple[str, str], ...]  # (caller, attestation or "")
    required_roles: tuple[str, ...]
    article: str
    category: str = "news"


RULES = [
    Rule("subsidiary", "editor", EAST, PLAIN, (("unit_head", ""),), ("unit_head",), "17(1)"),
    Rule(
        "other subsidiary",
        "editor_west",
        WEST,
        PLAIN,
        (("unit_head_west", ""),),
        ("unit_head",),
        "17(1)",
    ),
    Rule(
        "hq account by a department",
        "editor_hq",
        HQ,
        PLAIN,
        (("dept_head", ""), ("brand_pr", "")),
        ("brand_pr", "unit_head"),
        "17(1)",
    ),
    Rule(
        "department account",
        "editor_hq",
        STRATEGY,
        PLAIN,
        (("dept_head", ""), ("brand_pr", "")),
        ("brand_pr", "unit_head"),
        "17(1)",
    ),
    Rule(
        "financial",
        "editor",
        EAST,
        FINANCIAL,
        (("unit_head", ""), ("leader", ""), ("brand_pr", "")),
        ("brand_pr", "leader", "unit_head"),
        "14",
    ),
    Rule(
        "strategy",
        "editor",
        EAST,
        STRATEGY_TEXT,
        (("unit_head", ""), ("leader", ""), ("brand_pr", "")),
        ("brand_pr", "leader", "unit_head"),
        "14",
    ),
    Rule(
        "reform",
        "editor",
        EAST,
        REFORM_TEXT,
        (("unit_head", ""), ("leader", ""), ("brand_pr", "")),
        ("brand_pr", "leader", "unit_head"),
        "14",
    ),
    Rule(
        "sensitive",
        "editor",
        EAST,
        SENSITIVE_TEXT,
        (("unit_head", ""), ("leader", ""), ("brand_pr", "")),
        ("brand_pr", "leader", "unit_head"),
        "14",
    ),
    Rule(
        "category other",
        "editor",
        EAST,
        PLAIN,
        (("unit_head", ""), ("leader", "")),
        ("leader", "unit_head"),
        "12(4)",
        category="other",
    ),
    Rule(
        "executive named",
        "editor",
        EAST,
        EXECUTIVE,
        (("unit_head", ""), ("brand_pr", "")),
        ("brand_pr", "unit_head"),
        "17(2)",
    ),
    Rule(
        "outsider quoted",
        "editor",
        EAST,
        OUTSIDER,
        (("unit_head", ""), ("brand_pr", "external_confirmation")),
        ("brand_pr", "unit_head"),
        "17(2)",
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
async def test_each_rule_needs_exactly_its_approvers(org: Org, rule: Rule) -> None:
    post = draft(rule.content, category=rule.category)
    screened = await org.screen(rule.submitter, post, rule.account)
    assert tuple(screened["required_roles"]) == rule.required_roles
    reasons = " ".join(r for a in screened["required_approvals"] for r in a["reasons"])
    assert f"Art. {rule.article}" in reasons

    tokens = {
        who: await org.approve(who, post, [rule.account], attest=[attest] if attest else None)
        for who, attest in rule.approvers
    }
    refusals = 0
    # Leave out each approver in turn: refused, naming exactly the missing role.
    for left_out, _ in rule.approvers:
        others = [t for who, t in tokens.items() if who != left_out]
        resp = await org.publish(rule.submitter, rule.account, post, others)
        body = await problem(resp, 403)
        refusals += 1
        assert body["type"].endswith("/approvals-missing")
        assert body["missing_roles"] == [org[left_out].role]
        assert sorted(body["required_roles"]) == sorted(rule.required_roles)
        assert body["token_errors"] == []
        assert body["missing_approvals"][0]["reasons"]
        record = await _last_publish_record(org)
        assert record["result"] == "refused"
        assert record["decision"] == "approvals-missing"

    resp = await org.publish(rule.submitter, rule.account, post, list(tokens.values()))
    assert resp.status == 202, await resp.text()
    job = await resp.json()
    assert job["state"] == "approved"
    assert sorted(job["required_roles"]) == sorted(
        a["role"]
        + (f"@{a['unit']}" if a.get("unit") else "")
        + (f"+{a['attest']}" if a.get("attest") else "")
        for a in screened["required_approvals"]
    )
    attempts = [r for r in await org.audit() if r["action"] == "post.publish"]
    assert [r["result"] for r in attempts] == ["refused"] * refusals + ["ok"]


async def test_outsider_quote_needs_brand_pr_to_record_the_external_confirmation(org: Org) -> None:
    post = draft(OUTSIDER)
    head = await org.approve("unit_head", post, [EAST])
    plain_pr = await org.approve("brand_pr", post, [EAST])
    resp = await org.publish("editor", EAST, post, [head, plain_pr])
    body = await problem(resp, 403)
    assert body["missing_approvals"] == [
        {
            "role": "brand_pr",
            "attest": "external_confirmation",
            "reasons": body["missing_approvals"][0]["reasons"],
        }
    ]
    assert "Art. 17(2)" in body["missing_approvals"][0]["reasons"][0]
    # only Brand-PR records the confirmation
    resp = await org.approve_raw("leader", post, [EAST], attest=["external_confirmation"])
    assert (await problem(resp, 403))["field"] == "attest"


# --- blocked whatever the approvals; unsourced ------------------------------------------------


async def test_deny_category_is_blocked_with_findings_even_with_every_approval(org: Org) -> None:
    post = draft(SECRET)
    screened = await org.screen("editor", post, EAST)
    assert screened["decision"] == "block"
    # Approvers cannot approve blocked content at all ...
    resp = await org.approve_raw("unit_head", post, [EAST])
    blocked = await problem(resp, 422)
    assert any(f["category"] == "state_secret" for f in blocked["findings"])
    # ... and tokens for it signed by every role (here with the gateway's own key) do not help.
    digest = await org.content_hash(post)
    now = time.time()
    tokens = [
        forge(org[who], digest, [EAST], now_s=now) for who in ("unit_head", "leader", "brand_pr")
    ]
    resp = await org.publish("editor", EAST, post, tokens)
    body = await problem(resp, 422)
    assert body["type"].endswith("/content-blocked")
    secret = [f for f in body["findings"] if f["category"] == "state_secret"]
    assert secret and secret[0]["action"] == "block"
    finding = secret[0]
    assert finding["field"] == "content"
    assert post["content"][finding["start"] : finding["end"]] == finding["text"] == "绝密"
    record = await _last_publish_record(org)
    assert record["result"] == "refused"
    assert record["decision"] == "content-blocked"
    assert any(r.startswith("state_secret:") for r in record["reasons"])


async def test_unsourced_post_is_refused_naming_post_source(org: Org) -> None:
    post = draft(PLAIN, source="")
    screened = await org.screen("editor", post, EAST)
    assert any("post.source" in w for w in screened["warnings"])
    token = await org.approve("unit_head", post, [EAST])
    resp = await org.publish("editor", EAST, post, [token])
    body = await problem(resp, 422)
    assert body["errors"][0]["field"] == "post.source"
    assert "Art. 15" in body["errors"][0]["message"]
    assert (await _last_publish_record(org))["result"] == "refused"


# --- every token check has its own code -------------------------------------------------------


def _b64json(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj).encode())


async def _token_case(org: Org, case: str, post: dict[str, Any]) -> tuple[str, list[str]]:
    """(submitter, tokens) for a publish of ``post`` to EAST whose only bad token is ``case``."""
    digest = await org.content_hash(post)
    now = time.time()
    good = await org.approve("unit_head", post, [EAST])
    payload = good.split(".")[1]
    other_key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_raw = (
        serialization.load_pem_private_key(SIGNING_PEM, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    head = org["unit_head"]
    if case == "bad_signature":
        return "editor", [forge(head, digest, [EAST], now_s=now, pem=other_key)]
    if case == "bad_alg:none":
        h = _b64json({"alg": "none", "typ": TOKEN_TYP, "kid": ring_kid()})
        return "editor", [f"{h}.{payload}."]
    if case == "bad_alg:HS256":
        h = _b64json({"alg": "HS256", "typ": TOKEN_TYP, "kid": ring_kid()})
        mac = hmac.new(public_raw, f"{h}.{payload}".encode(), hashlib.sha256).digest()
        return "editor", [f"{h}.{payload}.{b64url(mac)}"]
    if case == "unknown_kid":
        return "editor", [forge(head, digest, [EAST], now_s=now, kid="oa-unknown-2026")]
    if case == "expired":
        return "editor", [forge(head, digest, [EAST], now_s=now - 7200, lifetime_s=3600)]
    if case == "not_yet_valid":
        return "editor", [forge(head, digest, [EAST], now_s=now + 3600)]
    if case == "hash_mismatch":
        other = await org.approve("unit_head", draft(PLAIN + "。"), [EAST])
        return "editor", [other]
    if case == "account_not_in_token":
        return "editor", [forge(head, digest, [WEST], now_s=now)]
    if case == "role_mismatch":
        # a real key-holder (the editor) claims to be the unit head
        return "editor", [forge(org["editor"], digest, [EAST], now_s=now, role="unit_head")]
    if case == "self_approval":
        return "unit_head", [good]
    if case == "wrong_unit":
        return "editor", [forge(org["unit_head_west"], digest, [EAST], now_s=now)]
    if case == "malformed":
        return "editor", [good[:-1]]
    raise AssertionError(case)


TOKEN_CASES = [
    ("bad_signature", "bad_signature"),
    ("bad_alg:none", "bad_alg"),
    ("bad_alg:HS256", "bad_alg"),
    ("unknown_kid", "unknown_kid"),
    ("expired", "expired"),
    ("not_yet_valid", "not_yet_valid"),
    ("hash_mismatch", "hash_mismatch"),
    ("account_not_in_token", "account_not_in_token"),
    ("role_mismatch", "role_mismatch"),
    ("self_approval", "self_approval"),
    ("wrong_unit", "wrong_unit"),
    ("malformed", "malformed"),
]


@pytest.mark.parametrize(("case", "code"), TOKEN_CASES, ids=[c for c, _ in TOKEN_CASES])
async def test_each_token_failure_has_its_own_code(org: Org, case: str, code: str) -> None:
    post = draft(PLAIN)
    submitter, tokens = await _token_case(org, case, post)
    resp = await org.publish(submitter, EAST, post, tokens)
    body = await problem(resp, 403)
    assert body["required_roles"] == ["unit_head"]
    assert body["missing_roles"] == ["unit_head"]
    assert [e["code"] for e in body["token_errors"]] == [code]
    assert body["token_errors"][0]["index"] == 0
    assert body["token_errors"][0]["reason"]
    record = await _last_publish_record(org)
    assert record["result"] == "refused"
    assert f"token 0: {code}" in record["reasons"]


async def test_the_same_person_counts_once(org: Org) -> None:
    post = draft(FINANCIAL)
    head = await org.approve("unit_head", post, [EAST])
    again = await org.approve("unit_head", post, [EAST])
    leader = await org.approve("leader", post, [EAST])
    resp = await org.publish("editor", EAST, post, [head, leader, again])
    body = await problem(resp, 403)
    assert body["missing_roles"] == ["brand_pr"]
    assert [(e["index"], e["code"]) for e in body["token_errors"]] == [(2, "duplicate_approver")]


async def test_wrong_unit_head_cannot_even_obtain_a_token(org: Org) -> None:
    resp = await org.approve_raw("unit_head_west", draft(PLAIN), [EAST])
    body = await problem(resp, 403)
    assert body["reason"] == "wrong_unit"


async def test_replayed_tokens_are_refused_with_409_naming_the_jti(org: Org) -> None:
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST])
    resp = await org.publish("editor", EAST, post, [token])
    assert resp.status == 202, await resp.text()
    accepted = await resp.json()
    resp = await org.publish("editor", EAST, post, [token])
    body = await problem(resp, 409)
    assert body["type"].endswith("/token-replayed")
    assert body["jti"] == accepted["approvals"][0]["jti"]
    assert body["jti"] in body["detail"]
    assert (await _last_publish_record(org))["decision"] == "token-replayed"


# --- external issuers (an OA system) ----------------------------------------------------------


async def test_external_oa_issuer_tokens_count_and_one_person_counts_once(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    oa_pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    oa_public = (
        serialization.load_pem_private_key(oa_pem, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    oa = IssuerSettings(
        kid="oa-2026",
        issuer="oa.example.internal",
        public_key=b64url(oa_public),
        roles=("leader", "brand_pr"),
    )
    with_oa = replace(settings, approvals=replace(settings.approvals, issuers=(oa,)))
    org = await start_org(make_client, with_oa, callers)
    post = draft(FINANCIAL)
    digest = await org.content_hash(post)
    now = time.time()
    person = Caller("", "oa-user-17", "leader", "hq")

    def oa_token(role: str, unit: str, who: Caller = person) -> str:
        return forge(
            who,
            digest,
            [EAST],
            now_s=now,
            role=role,
            unit=unit,
            issuer=oa.issuer,
            pem=oa_pem,
            kid=oa.kid,
        )

    head = await org.approve("unit_head", post, [EAST])
    # one OA user signing as leader and as Brand-PR is still one person
    resp = await org.publish(
        "editor", EAST, post, [head, oa_token("leader", "hq"), oa_token("brand_pr", "brand_pr")]
    )
    body = await problem(resp, 403)
    assert body["missing_roles"] == ["brand_pr"]
    assert [e["code"] for e in body["token_errors"]] == ["duplicate_approver"]
    # the OA key may not assert unit_head
    resp = await org.publish("editor", EAST, post, [oa_token("unit_head", "sub_east")])
    assert [e["code"] for e in (await problem(resp, 403))["token_errors"]] == ["role_not_allowed"]
    # two different OA people: accepted
    other = Caller("", "oa-user-42", "brand_pr", "brand_pr")
    resp = await org.publish(
        "editor",
        EAST,
        post,
        [head, oa_token("leader", "hq"), oa_token("brand_pr", "brand_pr", other)],
    )
    assert resp.status == 202, await resp.text()
    job = await resp.json()
    assert {(a["iss"], a["role"]) for a in job["approvals"]} >= {
        ("oa.example.internal", "leader"),
        ("oa.example.internal", "brand_pr"),
    }


# --- the account and the editor ---------------------------------------------------------------


async def test_frozen_account_is_423(org: Org) -> None:
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST])
    resp = await org.client.post(
        "/admin/freeze",
        headers=org["admin"].headers,
        json={"scope": "account", "id": EAST, "reason": "舆情应急演练"},
    )
    assert resp.status == 201, await resp.text()
    resp = await org.publish("editor", EAST, post, [token])
    body = await problem(resp, 423)
    assert body["reason"] == "frozen"
    assert "舆情应急演练" in body["detail"]
    assert (await _last_publish_record(org))["decision"] == "frozen"
    # a unit freeze blocks the same way
    resp = await org.client.post(
        "/admin/unfreeze", headers=org["admin"].headers, json={"scope": "account", "id": EAST}
    )
    assert resp.status == 200, await resp.text()
    resp = await org.client.post(
        "/admin/freeze",
        headers=org["brand_pr"].headers,
        json={"scope": "unit", "id": "sub_east", "reason": "整改"},
    )
    assert resp.status == 201, await resp.text()
    await problem(await org.publish("editor", EAST, post, [token]), 423)


async def test_pending_account_is_409(org: Org) -> None:
    resp = await org.client.post(
        "/v1/accounts",
        headers=org["unit_head"].headers,
        json={"id": "east-new", "platform": "wechat", "name": "华东新号", "unit": "sub_east"},
    )
    assert resp.status == 201, await resp.text()
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, ["east-new"])
    body = await problem(await org.publish("editor", "east-new", post, [token]), 409)
    assert body["reason"] == "account_not_active"
    assert body["state"] == "pending"
    assert "Art. 7" in body["detail"]
    assert (await _last_publish_record(org))["result"] == "refused"


async def test_editor_of_another_unit_is_403(org: Org) -> None:
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST])
    body = await problem(await org.publish("editor_west", EAST, post, [token]), 403)
    assert body["reason"] == "wrong_unit"
    assert body["field"] == "account"
    record = await _last_publish_record(org)
    assert record["result"] == "refused"
    assert record["actor"]["id"] == org["editor_west"].id


# --- rejections -------------------------------------------------------------------------------


async def test_rejection_needs_a_reason_is_recorded_and_refuses_the_publish(org: Org) -> None:
    post = draft(EXECUTIVE)
    resp = await org.approve_raw("brand_pr", post, [EAST], decision="reject")
    assert (await problem(resp, 422))["errors"][0]["field"] == "reason"
    await org.approve("brand_pr", post, [EAST], decision="reject", reason="董事长行程未经核实")
    rejected = [r for r in await org.audit() if r["action"] == "approval.reject"]
    assert rejected and rejected[-1]["reasons"] == ["董事长行程未经核实"]

    head = await org.approve("unit_head", post, [EAST])
    other_pr = await org.approve("brand_pr2", post, [EAST])
    body = await problem(await org.publish("editor", EAST, post, [head, other_pr]), 403)
    assert body["reason"] == "rejected"
    assert body["rejections"][0]["reason"] == "董事长行程未经核实"
    assert body["rejections"][0]["role"] == "brand_pr"
    assert (await _last_publish_record(org))["decision"] == "forbidden"


# --- Art. 19: edits and deletions -------------------------------------------------------------


async def _published_job(org: Org, content: str = PLAIN) -> tuple[dict[str, Any], str]:
    post = draft(content)
    token = await org.approve("unit_head", post, [EAST])
    resp = await org.publish("editor", EAST, post, [token])
    assert resp.status == 202, await resp.text()
    job = await resp.json()
    await org.published(job["id"])
    return post, job["id"]


async def test_edit_needs_fresh_approvals_for_the_new_content(org: Org) -> None:
    post, job_id = await _published_job(org)
    old_token = await org.approve("unit_head", post, [EAST])
    edited = {**post, "content": post["content"].replace("热情高涨", "热情很高")}
    resp = await org.client.patch(
        f"/v1/posts/{job_id}",
        headers=org["editor"].headers,
        json={"post": edited, "approvals": [old_token]},
    )
    body = await problem(resp, 403)
    assert [e["code"] for e in body["token_errors"]] == ["hash_mismatch"]
    record = await _last_publish_record(org)
    assert (record["action"], record["result"]) == ("post.update", "refused")

    # an edit that now names the chairman needs Brand-PR too
    edited = {**post, "content": post["content"] + f"<p>{EXECUTIVE}</p>"}
    fresh = await org.approve("unit_head", edited, [EAST])
    resp = await org.client.patch(
        f"/v1/posts/{job_id}",
        headers=org["editor"].headers,
        json={"post": edited, "approvals": [fresh]},
    )
    assert (await problem(resp, 403))["missing_roles"] == ["brand_pr"]
    pr = await org.approve("brand_pr", edited, [EAST])
    resp = await org.client.patch(
        f"/v1/posts/{job_id}",
        headers=org["editor"].headers,
        json={"post": edited, "approvals": [fresh, pr]},
    )
    assert resp.status == 202, await resp.text()
    update = await resp.json()
    assert (update["kind"], update["origin"], update["state"]) == ("update", job_id, "approved")
    record = await _last_publish_record(org)
    assert (record["action"], record["result"]) == ("post.update", "ok")
    # an editor of another unit cannot even see it
    resp = await org.client.patch(
        f"/v1/posts/{job_id}",
        headers=org["editor_west"].headers,
        json={"post": edited, "approvals": [fresh, pr]},
    )
    await problem(resp, 404)


async def test_only_published_posts_can_be_edited(org: Org) -> None:
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST])
    job = await (await org.publish("editor", EAST, post, [token])).json()
    resp = await org.client.patch(
        f"/v1/posts/{job['id']}", headers=org["editor"].headers, json={"post": post}
    )
    assert (await problem(resp, 409))["reason"] == "not_published"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("editor", 403),  # editors never delete
        ("unit_head_west", 404),  # another unit's head does not see the post
        ("dept_head", 404),
        ("leader", 403),  # not a deleting role
        ("unit_head", 202),  # the owning unit's head
        ("brand_pr", 202),
    ],
)
async def test_deletion_needs_brand_pr_or_the_owning_units_head(
    org: Org, who: str, status: int
) -> None:
    _, job_id = await _published_job(org)
    resp = await org.client.delete(
        f"/v1/posts/{job_id}", headers=org[who].headers, json={"reason": "信息已过时"}
    )
    if status != 202:
        await problem(resp, status)
        return
    assert resp.status == 202, await resp.text()
    job = await resp.json()
    assert (job["kind"], job["origin"], job["reason"]) == ("delete", job_id, "信息已过时")
    deletes = [r for r in await org.audit() if r["action"] == "post.delete"]
    assert deletes[-1]["result"] == "ok"
    assert deletes[-1]["actor"]["id"] == org[who].id
    # a second deletion while the first is in flight is a conflict
    resp = await org.client.delete(
        f"/v1/posts/{job_id}", headers=org[who].headers, json={"reason": "again"}
    )
    assert (await problem(resp, 409))["reason"] == "busy"


async def test_deletion_needs_a_reason(org: Org) -> None:
    _, job_id = await _published_job(org)
    resp = await org.client.delete(f"/v1/posts/{job_id}", headers=org["brand_pr"].headers, json={})
    assert (await problem(resp, 422))["errors"][0]["field"] == "reason"


async def test_audit_chain_verifies_after_the_walk(org: Org) -> None:
    post = draft(FINANCIAL)
    await problem(await org.publish("editor", EAST, post, []), 403)
    tokens = [await org.approve(w, post, [EAST]) for w in ("unit_head", "leader", "brand_pr")]
    assert (await org.publish("editor", EAST, post, tokens)).status == 202
    await problem(await org.publish("editor", EAST, post, tokens), 409)
    result = await org.client.app[SERVICES].audit.verify()
    assert result.ok, result
    attempts = [r for r in await org.audit() if r["action"] == "post.publish"]
    assert [r["decision"] for r in attempts] == ["approvals-missing", "approved", "token-replayed"]


@pytest.mark.parametrize("who", ["editor", "admin", "auditor"])
async def test_only_approver_roles_issue_approvals(org: Org, who: str) -> None:
    resp = await org.approve_raw(who, draft(PLAIN), [EAST])
    await problem(resp, 403)


async def test_a_department_editor_cannot_publish_to_another_departments_account(org: Org) -> None:
    """Departments submit to HQ's own accounts, not to each other's."""
    resp = await org.client.post(
        "/v1/accounts",
        headers=org["admin"].headers,
        json={"id": "pr-wechat", "platform": "wechat", "name": "品牌号", "unit": "brand_pr"},
    )
    assert resp.status == 201, await resp.text()
    resp = await org.client.post(
        "/v1/accounts/pr-wechat/approve", headers=org["brand_pr"].headers, json={}
    )
    assert resp.status == 200, await resp.text()
    body = await problem(await org.publish("editor_hq", "pr-wechat", draft(PLAIN), []), 403)
    assert body["reason"] == "wrong_unit"
    resp = await org.approve_raw("dept_head", draft(PLAIN), ["pr-wechat"])
    assert (await problem(resp, 403))["reason"] == "wrong_unit"
