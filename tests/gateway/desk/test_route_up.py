"""The route up (Art. 17(1)): a subsidiary's editor submits to a company (HQ) account; its own
unit head approves, then Brand-PR publishes; Brand-PR may adapt the text, which sends the new
version back to the unit head."""

from __future__ import annotations

from tests.gateway.desk.desk_support import Desk, problem
from tests.gateway.gate_support import EAST, HQ, SECRET, STRATEGY, WEST, draft


async def test_a_subsidiary_editor_screens_against_an_hq_account(desk: Desk) -> None:
    resp = await desk.client.post(
        "/v1/screen", headers=desk.h("editor"), json={"post": draft(), "account": HQ}
    )
    assert resp.status == 200, await resp.text()
    needed = {(r["role"], r.get("unit")) for r in (await resp.json())["required_approvals"]}
    assert needed == {("unit_head", "sub_east"), ("brand_pr", None)}


async def test_sub_east_to_hq_needs_its_unit_head_then_brand_pr(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), HQ)
    needed = {(r["role"], r["unit"]) for r in sub["required_approvals"]}
    assert needed == {("unit_head", "sub_east"), ("brand_pr", None)}
    # the head of sub_east is asked, not HQ's department heads nor another subsidiary's
    assert sub["id"] in [i["id"] for i in await desk.inbox("unit_head")]
    assert await desk.inbox("dept_head") == []
    assert await desk.inbox("unit_head_west") == []
    await problem(await desk.decide_raw("unit_head_west", sub["id"], decision="approve"), 404)
    await problem(await desk.decide_raw("dept_head", sub["id"], decision="approve"), 404)
    await problem(await desk.decide_raw("leader", sub["id"], decision="approve"), 403)
    await problem(await desk.get_raw("editor_west", sub["id"]), 404)

    after_head = await desk.approve("unit_head", sub["id"])
    assert after_head["state"] == "awaiting_approval"  # Brand-PR publishes, it has not yet
    done = await desk.approve("brand_pr", sub["id"])
    assert done["state"] == "publishing"
    (job,) = done["jobs"]
    assert job["account"] == HQ and job["id"]
    await desk.job_published(job["id"])
    published = await desk.wait_state("editor", sub["id"], "published")
    assert published["jobs"][0]["url"]


async def test_the_route_up_opens_no_sideways_route(desk: Desk) -> None:
    for who, account in (("editor", WEST), ("editor", STRATEGY), ("editor_west", EAST)):
        resp = await desk.submit_raw(who, {"account": account, "post": draft()})
        assert (await problem(resp, 403))["reason"] == "wrong_unit", (who, account)
    # a blocked post goes up no more than sideways
    await problem(await desk.submit_raw("editor", {"account": HQ, "post": draft(SECRET)}), 422)


async def test_a_brand_pr_edit_goes_back_to_the_unit_head(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), HQ)
    await desk.approve("unit_head", sub["id"])

    adapted = draft("华东分公司本周完成年度安全生产检查，集团统一发布。", title="集团动态")
    resp = await desk.put("brand_pr", sub["id"], adapted)
    assert resp.status == 201, await resp.text()
    new = await resp.json()
    assert new["version"] == 2 and new["previous"] == sub["id"]
    # the route stays the sending editor's; Brand-PR is recorded as the one who adapted it
    assert new["submitted_by"] == desk["editor"].id
    assert new["revised_by"] == desk["brand_pr"].id
    # Brand-PR's edit is its approval of the new text; the unit head's old one counts no more
    assert [(a["role"], a["by"]) for a in new["approvals"]] == [("brand_pr", desk["brand_pr"].id)]
    open_ = [(r["role"], r["unit"]) for r in new["required_approvals"] if not r["satisfied"]]
    assert open_ == [("unit_head", "sub_east")]
    assert new["state"] == "awaiting_approval"
    assert [i["id"] for i in await desk.inbox("unit_head")] == [new["id"]]
    assert await desk.inbox("brand_pr2") == []
    old = await desk.get("editor", sub["id"])
    assert old["state"] == "superseded" and old["superseded_by"] == new["id"]
    edits = [r for r in await desk.audit() if r["action"] == "submission.revise"]
    assert edits[-1]["actor"]["id"] == desk["brand_pr"].id

    # one click by the unit head and it goes out, published for the sending editor
    done = await desk.approve("unit_head", new["id"])
    assert done["state"] == "publishing"
    assert done["jobs"][0]["account"] == HQ and done["jobs"][0]["id"]


async def test_the_editor_can_still_edit_and_brand_pr_must_approve_anew(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), HQ)
    await desk.approve("brand_pr", sub["id"])
    resp = await desk.put("editor", sub["id"], draft(title="华东分公司动态（修订）"))
    assert resp.status == 201, await resp.text()
    new = await resp.json()
    assert new["approvals"] == [] and new["revised_by"] is None
    assert new["id"] in [i["id"] for i in await desk.inbox("brand_pr")]


async def test_fan_out_one_approval_per_role_one_job_per_account(desk: Desk) -> None:
    """One submission for the unit's own account and the company account: the unit head and
    Brand-PR each approve once for both, and each account gets its own job."""
    sub = await desk.submit("editor", draft(), EAST, HQ)
    needed = {(r["role"], r["unit"]): sorted(r["accounts"]) for r in sub["required_approvals"]}
    assert needed == {("unit_head", "sub_east"): sorted([EAST, HQ]), ("brand_pr", None): [HQ]}
    after_head = await desk.approve("unit_head", sub["id"])
    assert sorted(after_head["approvals"][0]["accounts"]) == sorted([EAST, HQ])
    assert after_head["state"] == "awaiting_approval"
    done = await desk.approve("brand_pr", sub["id"])
    assert done["state"] == "publishing" and len(done["approvals"]) == 2
    assert sorted(j["account"] for j in done["jobs"]) == sorted([EAST, HQ])
    assert all(j["id"] for j in done["jobs"]) and len({j["id"] for j in done["jobs"]}) == 2
