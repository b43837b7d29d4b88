"""``/v1/submissions``: submit, read, list, edit (new version), withdraw, and every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.appkeys import SERVICES
from tests.gateway.desk.desk_support import Desk, problem
from tests.gateway.gate_support import EAST, FINANCIAL, HQ, SECRET, STRATEGY, WEST, draft


async def test_submit_keeps_the_post_with_its_hash_findings_and_required_approvals(
    desk: Desk,
) -> None:
    post = draft(FINANCIAL)
    sub = await desk.submit("editor", post, EAST, note="请审核", campaign="c1")
    assert sub["id"].startswith("sub_") and sub["version"] == 1
    assert sub["state"] == "awaiting_approval"
    assert sub["content_sha256"] == await desk.content_hash(post)
    assert sub["accounts"] == [EAST] and sub["note"] == "请审核" and sub["campaign"] == "c1"
    assert {f["category"] for f in sub["findings"]} >= {"financial"}
    needed = {(r["role"], r["unit"]) for r in sub["required_approvals"]}
    assert needed == {("unit_head", "sub_east"), ("leader", None), ("brand_pr", None)}
    assert all(r["reasons"] and not r["satisfied"] for r in sub["required_approvals"])
    assert sub["approvals"] == [] and sub["jobs"] == []
    assert sub["history"][0]["action"] == "submitted"
    assert sub["post"]["title"] == post["title"]
    assert sub["post"]["cover"]["sha256"]
    records = [r for r in await desk.audit() if r["action"] == "submission.create"]
    assert records and records[-1]["target"] == sub["id"]
    assert records[-1]["content_sha256"] == sub["content_sha256"]


async def test_one_submission_for_several_accounts_needs_each_owner(desk: Desk) -> None:
    sub = await desk.submit("brand_pr", draft(), EAST, WEST)
    needed = {(r["role"], r["unit"]): r["accounts"] for r in sub["required_approvals"]}
    assert needed == {("unit_head", "sub_east"): [EAST], ("unit_head", "sub_west"): [WEST]}


async def test_blocked_content_is_refused_with_findings_and_audited(desk: Desk) -> None:
    resp = await desk.submit_raw("editor", {"account": EAST, "post": draft(SECRET)})
    body = await problem(resp, 422)
    assert body["type"].endswith("content-blocked")
    assert any(f["action"] == "block" for f in body["findings"])
    records = [r for r in await desk.audit() if r["action"] == "submission.refused"]
    assert records[-1]["decision"] == "block" and records[-1]["result"] == "refused"
    assert await desk.list("brand_pr") == []


@pytest.mark.parametrize(
    ("who", "body", "status", "field"),
    [
        ("editor", {"account": "nope", "post": draft()}, 404, None),
        ("editor", {"account": WEST, "post": draft()}, 403, "account"),
        ("editor", {"account": EAST, "post": draft(source="")}, 422, None),
        ("editor", {"account": EAST, "accounts": [EAST], "post": draft()}, 422, "accounts"),
        ("editor", {"accounts": [], "post": draft()}, 422, "accounts"),
        ("editor", {"account": EAST, "post": draft(), "publish_at": "明天"}, 422, "publish_at"),
        (
            "editor",
            {"account": EAST, "post": draft(), "publish_at": "2030-01-01T08:00:00"},
            422,
            "publish_at",
        ),
        (
            "editor",
            {"account": EAST, "post": draft(), "publish_at": "2099-01-01T08:00:00Z"},
            422,
            "publish_at",
        ),
        ("editor", {"account": EAST, "post": draft(), "token": "x"}, 422, "token"),
        ("editor", {"account": EAST}, 422, "post"),
        ("auditor", {"account": EAST, "post": draft()}, 403, None),
        ("leader", {"account": EAST, "post": draft()}, 403, None),
    ],
)
async def test_submit_refusals(
    desk: Desk, who: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    data = await problem(await desk.submit_raw(who, body), status)
    if field:
        assert field in str(data.get("errors") or data.get("field")), data


async def test_a_frozen_account_takes_no_submission(desk: Desk) -> None:
    resp = await desk.client.post(
        "/admin/freeze",
        headers=desk.h("brand_pr"),
        json={"scope": "account", "id": EAST, "reason": "应急"},
    )
    assert resp.status in (200, 201), await resp.text()
    await problem(await desk.submit_raw("editor", {"account": EAST, "post": draft()}), 423)


async def test_reading_is_for_the_submitter_approvers_in_scope_brand_pr_and_auditors(
    desk: Desk,
) -> None:
    sub = await desk.submit("editor", draft(), EAST)
    for who in ("editor", "unit_head", "brand_pr", "auditor", "admin", "leader"):
        assert (await desk.get(who, sub["id"]))["id"] == sub["id"]
    for who in ("editor_west", "unit_head_west", "dept_head"):
        await problem(await desk.get_raw(who, sub["id"]), 404)
    await problem(await desk.get_raw("editor", "sub_nope"), 404)


async def test_listing_filters_by_caller_state_and_mine(desk: Desk) -> None:
    east = await desk.submit("editor", draft(), EAST)
    west = await desk.submit("editor_west", draft(title="西部动态"), WEST)
    assert [s["id"] for s in await desk.list("editor")] == [east["id"]]
    assert [s["id"] for s in await desk.list("editor_west")] == [west["id"]]
    assert {s["id"] for s in await desk.list("brand_pr")} == {east["id"], west["id"]}
    assert await desk.list("brand_pr", "?mine=true") == []
    assert [s["id"] for s in await desk.list("unit_head")] == [east["id"]]
    assert await desk.list("editor", "?state=published") == []
    item = (await desk.list("editor", "?state=awaiting_approval"))[0]
    assert item["title"] == "华东分公司动态" and "post" not in item and item["findings_count"] == 0
    await problem(
        await desk.client.get("/v1/submissions?state=nope", headers=desk.h("editor")), 422
    )
    await problem(
        await desk.client.get("/v1/submissions?mine=perhaps", headers=desk.h("editor")), 422
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?limit=十", "limit"),
        ("?limit=", "limit"),
        ("?state=", "state"),
        ("?state=已发布", "state"),
        ("?state=PUBLISHED", "state"),
        ("?mine=是", "mine"),
        ("?mine=TRUE", "mine"),
    ],
)
async def test_listing_refuses_bad_parameters_naming_them(
    desk: Desk, query: str, field: str
) -> None:
    resp = await desk.client.get(f"/v1/submissions{query}", headers=desk.h("editor"))
    data = await problem(resp, 422)
    assert [e["field"] for e in data["errors"]] == [field], data


async def test_edit_makes_a_new_version_and_supersedes_the_old(desk: Desk) -> None:
    first = await desk.submit("editor", draft(), EAST)
    resp = await desk.put("editor", first["id"], draft("华东分公司举办员工运动会，气氛热烈。"))
    assert resp.status == 201, await resp.text()
    second = await resp.json()
    assert second["id"] != first["id"] and second["version"] == 2
    assert second["previous"] == first["id"] and second["state"] == "awaiting_approval"
    assert second["content_sha256"] != first["content_sha256"]
    old = await desk.get("editor", first["id"])
    assert old["state"] == "superseded" and old["superseded_by"] == second["id"]
    assert [i["id"] for i in await desk.inbox("unit_head")] == [second["id"]]
    # the old version takes no edit, decision or withdrawal any more
    await problem(await desk.put("editor", first["id"], draft()), 409)
    await problem(await desk.decide_raw("unit_head", first["id"], decision="approve"), 409)
    await problem(await desk.withdraw("editor", first["id"]), 409)


async def test_a_post_changed_after_one_approval_needs_every_approval_again(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(FINANCIAL), EAST)
    after_one = await desk.approve("unit_head", sub["id"])
    assert after_one["state"] == "awaiting_approval"
    assert [a["role"] for a in after_one["approvals"]] == ["unit_head"]
    satisfied = {r["role"]: r["satisfied"] for r in after_one["required_approvals"]}
    assert satisfied == {"unit_head": True, "leader": False, "brand_pr": False}

    changed = draft(FINANCIAL.replace("23%", "24%"))
    resp = await desk.put("editor", sub["id"], changed)
    assert resp.status == 201, await resp.text()
    new = await resp.json()
    assert new["approvals"] == []
    assert not any(r["satisfied"] for r in new["required_approvals"])
    assert new["id"] in [i["id"] for i in await desk.inbox("unit_head")]
    # the old version keeps its approval, bound to the old hash
    old = await desk.get("brand_pr", sub["id"])
    assert old["state"] == "superseded" and len(old["approvals"]) == 1

    await desk.approve("leader", new["id"])
    await desk.approve("brand_pr", new["id"])
    still = await desk.get("editor", new["id"])
    assert still["state"] == "awaiting_approval"  # the unit head must approve the new text too
    done = await desk.approve("unit_head", new["id"])
    assert done["state"] == "publishing"
    assert len(done["approvals"]) == 3


async def test_edit_refusals(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), EAST)
    await problem(await desk.put("unit_head", sub["id"], draft()), 403)  # not the submitter
    await problem(await desk.put("editor_west", sub["id"], draft()), 404)
    await problem(await desk.put("editor", sub["id"], draft(SECRET)), 422)
    assert (await desk.get("editor", sub["id"]))["state"] == "awaiting_approval"
    resp = await desk.put("brand_pr", sub["id"], draft(title="品牌部修改"))
    assert resp.status == 201, await resp.text()  # Brand-PR edits what it publishes


async def test_withdraw(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), EAST)
    await problem(await desk.withdraw("brand_pr", sub["id"]), 403)
    await problem(await desk.withdraw("editor_west", sub["id"]), 404)
    resp = await desk.withdraw("editor", sub["id"])
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "withdrawn"
    assert await desk.inbox("unit_head") == []
    await problem(await desk.withdraw("editor", sub["id"]), 409)
    await problem(await desk.decide_raw("unit_head", sub["id"], decision="approve"), 409)
    assert any(r["action"] == "submission.withdraw" for r in await desk.audit())


async def test_a_department_submits_through_hq_accounts(desk: Desk) -> None:
    sub = await desk.submit("editor_hq", draft(), HQ)
    needed = {(r["role"], r["unit"]) for r in sub["required_approvals"]}
    assert needed == {("unit_head", "strategy_dept"), ("brand_pr", None)}
    sub2 = await desk.submit("editor_hq", draft(), STRATEGY)
    assert sub2["state"] == "awaiting_approval"


async def test_preview_says_what_a_submission_would_need_and_keeps_nothing(desk: Desk) -> None:
    from gateway.postmodel import parse_post

    limits = desk.settings.limits
    principal = await desk.client.app[SERVICES].principals.get(desk["editor"].id)
    preview = await desk.service.preview(
        principal, accounts=[EAST], post=parse_post(draft(FINANCIAL), limits)
    )
    assert preview.decision == "review"
    assert {r.role for r in preview.required} == {"unit_head", "leader", "brand_pr"}
    assert preview.public()["content_sha256"] == await desk.content_hash(draft(FINANCIAL))
    blocked = await desk.service.preview(
        principal, accounts=[EAST], post=parse_post(draft(SECRET), limits)
    )
    assert blocked.decision == "block" and blocked.required == ()
    assert any(f["action"] == "block" for f in blocked.findings)
    assert await desk.list("brand_pr") == []


async def test_preview_over_http(desk: Desk) -> None:
    resp = await desk.client.post(
        "/v1/submissions/preview",
        headers=desk.h("editor"),
        json={"accounts": [EAST], "post": draft(FINANCIAL)},
    )
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["decision"] == "review"
    assert {r["role"] for r in data["required_approvals"]} == {"unit_head", "leader", "brand_pr"}
    assert data["content_sha256"] == await desk.content_hash(draft(FINANCIAL))
    await problem(
        await desk.client.post(
            "/v1/submissions/preview",
            headers=desk.h("editor"),
            json={"account": WEST, "post": draft()},
        ),
        403,
    )
    await problem(
        await desk.client.post(
            "/v1/submissions/preview",
            headers=desk.h("auditor"),
            json={"account": EAST, "post": draft()},
        ),
        403,
    )
    assert await desk.list("brand_pr") == []
