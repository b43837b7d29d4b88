"""The inbox, decisions and attached approvals: who sees what, who may decide, what follows."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.appkeys import GATE
from gateway.desk.model import JobRef
from gateway.desk.publishing import RELEASING
from gateway.desk.service import DeskService
from gateway.desk.store import SubmissionStore
from gateway.jws import load_private_key_pem, new_approval_claims, sign_approval
from gateway.settings import IssuerSettings, Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.desk.desk_support import Desk, problem
from tests.gateway.gate_support import (
    EAST,
    EXECUTIVE,
    FINANCIAL,
    OUTSIDER,
    WEST,
    b64url,
    draft,
    forge,
    start_org,
)


async def test_the_inbox_shows_exactly_what_waits_for_the_callers_role_and_unit(
    desk: Desk,
) -> None:
    plain = await desk.submit("editor", draft(), EAST)
    money = await desk.submit("editor", draft(FINANCIAL), EAST)
    west = await desk.submit("editor_west", draft(title="西部"), WEST)
    assert [i["id"] for i in await desk.inbox("unit_head")] == [plain["id"], money["id"]]
    assert [i["id"] for i in await desk.inbox("unit_head_west")] == [west["id"]]
    assert [i["id"] for i in await desk.inbox("leader")] == [money["id"]]
    assert [i["id"] for i in await desk.inbox("brand_pr")] == [money["id"]]
    assert await desk.inbox("dept_head") == []
    item = (await desk.inbox("leader"))[0]
    assert item["required"]["role"] == "leader" and item["required"]["reasons"]
    assert item["accounts"] == [EAST] and item["title"] == "华东分公司动态"
    assert item["findings_count"] >= 1 and item["decision"] == "review"
    assert item["submitted_by"] == desk["editor"].id
    # once decided it leaves that approver's inbox, not the others'
    await desk.approve("leader", money["id"])
    assert await desk.inbox("leader") == []
    assert [i["id"] for i in await desk.inbox("brand_pr")] == [money["id"]]
    for who in ("editor", "auditor", "admin"):
        await problem(await desk.client.get("/v1/inbox", headers=desk.h(who)), 403)


async def test_approval_completes_and_the_desk_publishes_without_anyone_touching_a_token(
    desk: Desk,
) -> None:
    sub = await desk.submit("editor", draft(), EAST)
    done = await desk.approve("unit_head", sub["id"])
    assert done["state"] == "publishing"
    assert [(a["role"], a["by"], a["source"]) for a in done["approvals"]] == [
        ("unit_head", desk["unit_head"].id, "desk")
    ]
    (job,) = done["jobs"]
    assert job["account"] == EAST and job["id"].startswith("job_")
    # the job went through the gate: the desk's token was verified and its jti consumed
    recorded = await desk.client.app[GATE].jobs.get(job["id"])
    assert recorded is not None and recorded.submitted_by == desk["editor"].id
    assert [a.sub for a in recorded.approvals] == [desk["unit_head"].id]
    assert recorded.content_sha256 == sub["content_sha256"]
    text = await (await desk.get_raw("editor", sub["id"])).text()
    assert "eyJ" not in text and "token" not in text  # no JWS reaches the editor
    await desk.job_published(job["id"])
    final = await desk.get("editor", sub["id"])
    assert final["state"] == "published"
    assert final["jobs"][0]["url"] == f"https://mp.example/{job['id']}"
    actions = [r["action"] for r in await desk.audit()]
    for action in ("submission.create", "approval.approve", "post.publish"):
        assert action in actions


async def test_rejection_needs_a_reason_which_the_editor_sees(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), EAST)
    body = await problem(await desk.decide_raw("unit_head", sub["id"], decision="reject"), 422)
    assert "reason" in str(body["errors"])
    await problem(
        await desk.decide_raw("unit_head", sub["id"], decision="reject", reason="   "), 422
    )
    rejected = await desk.reject("unit_head", sub["id"], "标题与事实不符，请核实后重新提交")
    assert rejected["state"] == "rejected"
    seen = await desk.get("editor", sub["id"])
    assert seen["rejection"]["reason"] == "标题与事实不符，请核实后重新提交"
    assert seen["rejection"]["by"] == desk["unit_head"].id
    assert await desk.inbox("unit_head") == []
    await problem(await desk.decide_raw("unit_head", sub["id"], decision="approve"), 409)
    # the same content again is refused with the rejection; an edit goes back to the approver
    again = await desk.submit_raw("editor", {"account": EAST, "post": draft()})
    assert (await problem(again, 403))["reason"] == "rejected"
    resp = await desk.put("editor", sub["id"], draft("华东分公司举办员工运动会，已核实。"))
    assert resp.status == 201, await resp.text()
    assert len(await desk.inbox("unit_head")) == 1


async def test_decision_refusals(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), EAST)
    # not in scope: another subsidiary's head does not even see it
    await problem(await desk.decide_raw("unit_head_west", sub["id"], decision="approve"), 404)
    # a role nobody asked for
    body = await problem(await desk.decide_raw("leader", sub["id"], decision="approve"), 403)
    assert body["reason"] == "wrong_role"
    body = await problem(await desk.decide_raw("brand_pr", sub["id"], decision="approve"), 403)
    assert body["reason"] == "wrong_role"
    # editors do not decide
    await problem(await desk.decide_raw("editor", sub["id"], decision="approve"), 403)
    # bad bodies
    await problem(await desk.decide_raw("unit_head", sub["id"], decision="maybe"), 422)
    await problem(
        await desk.decide_raw("unit_head", sub["id"], decision="approve", attest=["nope"]), 422
    )
    await problem(await desk.decide_raw("unit_head", "sub_nope", decision="approve"), 404)
    # one decision per person and version
    await desk.approve("unit_head", (await desk.submit("editor", draft(FINANCIAL), EAST))["id"])
    twice = (await desk.inbox("brand_pr"))[0]["id"]
    await desk.approve("brand_pr", twice)
    body = await problem(await desk.decide_raw("brand_pr", twice, decision="approve"), 409)
    assert body["reason"] == "already_decided"


async def test_the_submitter_never_approves_their_own_submission(desk: Desk) -> None:
    sub = await desk.submit("unit_head_west", draft(title="西部"), WEST)
    body = await problem(
        await desk.decide_raw("unit_head_west", sub["id"], decision="approve"), 403
    )
    assert body["reason"] == "self_approval"
    assert await desk.inbox("unit_head_west") == []


async def test_wrong_unit_in_a_shared_submission(desk: Desk) -> None:
    sub = await desk.submit("brand_pr", draft(), EAST, WEST)
    after = await desk.approve("unit_head", sub["id"])
    assert after["state"] == "awaiting_approval"
    assert after["approvals"][0]["accounts"] == [EAST]  # signed for the accounts in scope only
    done = await desk.approve("unit_head_west", sub["id"])
    assert done["state"] == "publishing"
    assert sorted(j["account"] for j in done["jobs"]) == [EAST, WEST]
    assert all(j["id"] for j in done["jobs"])


async def test_an_outside_quote_needs_brand_pr_to_attest(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(OUTSIDER), EAST)
    assert any(r.get("attest") for r in sub["required_approvals"])
    await desk.approve("unit_head", sub["id"])
    body = await problem(await desk.decide_raw("brand_pr", sub["id"], decision="approve"), 422)
    assert "attest" in str(body["errors"])
    done = await desk.approve("brand_pr", sub["id"], attest=["external_confirmation"])
    assert done["state"] == "publishing"


async def test_publish_at_in_the_future_waits_in_approved_until_the_scheduler_releases_it(
    desk: Desk,
) -> None:
    when = datetime.fromtimestamp(time.time() + 2.5, UTC).isoformat()
    sub = await desk.submit("editor", draft(), EAST, publish_at=when)
    assert sub["publish_at"] > time.time()
    approved = await desk.approve("unit_head", sub["id"])
    assert approved["state"] == "approved" and approved["jobs"] == []
    assert await desk.service.release_due() == 0  # not yet
    released = await desk.wait_state("editor", sub["id"], "publishing", timeout_s=10)
    assert released["jobs"][0]["account"] == EAST  # "releasing" until the gate recorded the job
    for _ in range(50):
        if (await desk.get("editor", sub["id"]))["jobs"][0]["id"]:
            break
        await asyncio.sleep(0.05)
    assert (await desk.get("editor", sub["id"]))["jobs"][0]["state"] == "approved"
    # a withdrawn approved submission is never released
    much_later = datetime.fromtimestamp(time.time() + 600, UTC).isoformat()
    later = await desk.submit("editor", draft(title="稍后"), EAST, publish_at=much_later)
    await desk.approve("unit_head", later["id"])
    assert (await desk.withdraw("editor", later["id"])).status == 200
    await desk.service.release_due(now=time.time() + 3600)
    assert (await desk.get("editor", later["id"]))["state"] == "withdrawn"


async def test_a_gate_refusal_at_release_is_reflected_as_failed(desk: Desk) -> None:
    when = datetime.fromtimestamp(time.time() + 30, UTC).isoformat()
    sub = await desk.submit("editor", draft(), EAST, publish_at=when)
    await desk.approve("unit_head", sub["id"])
    resp = await desk.client.post(
        "/admin/freeze",
        headers=desk.h("brand_pr"),
        json={"scope": "account", "id": EAST, "reason": "应急"},
    )
    assert resp.status in (200, 201)
    sub_state = await desk.service.store.update(
        sub["id"], lambda s: dataclasses.replace(s, publish_at=time.time() - 1)
    )
    assert sub_state.state == "approved"
    await desk.service.release(sub["id"])
    failed = await desk.get("editor", sub["id"])
    assert failed["state"] == "failed"
    assert "frozen" in failed["jobs"][0]["reason"]


# --- external approvals --------------------------------------------------------------------

OA_KEY = Ed25519PrivateKey.generate()
OA_PEM = OA_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
OA_PUBLIC = b64url(
    OA_KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
)


def oa_token(sub: str, role: str, unit: str, digest: str, accounts: list[str]) -> str:
    claims = new_approval_claims(
        iss="oa.example.internal",
        sub=sub,
        role=role,
        unit=unit,
        accounts=tuple(accounts),
        content_sha256=digest,
        decision="approve",
        now_s=time.time(),
        lifetime_s=3600,
        name="OA 审批人",
    )
    return sign_approval(claims, load_private_key_pem("oa-2026", OA_PEM))


async def test_an_external_oa_token_attaches_and_completes_the_set(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    issuer = IssuerSettings(
        kid="oa-2026", issuer="oa.example.internal", public_key=OA_PUBLIC, roles=("unit_head",)
    )
    with_oa = dataclasses.replace(
        settings, approvals=dataclasses.replace(settings.approvals, issuers=(issuer,))
    )
    desk = Desk(await start_org(make_client, with_oa, callers))
    sub = await desk.submit("editor", draft(), EAST)
    digest = sub["content_sha256"]
    # refusals: garbage, other content, other account, a role the issuer may not vouch for
    body = await problem(await desk.attach("editor", sub["id"], "not.a.token"), 422)
    assert body["token_errors"]
    other = oa_token("oa-1", "unit_head", "sub_east", "0" * 64, [EAST])
    body = await problem(await desk.attach("editor", sub["id"], other), 422)
    assert body["token_errors"][0]["code"] == "hash_mismatch"
    wrong_account = oa_token("oa-1", "unit_head", "sub_east", digest, [WEST])
    await problem(await desk.attach("editor", sub["id"], wrong_account), 422)
    leader = oa_token("oa-1", "leader", "hq", digest, [EAST])
    await problem(await desk.attach("editor", sub["id"], leader), 422)
    await problem(await desk.attach("editor_west", sub["id"], other), 404)
    # the real thing
    good = oa_token("oa-1", "unit_head", "sub_east", digest, [EAST])
    resp = await desk.attach("editor", sub["id"], good)
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done["state"] == "publishing"
    assert done["approvals"][0]["source"] == "external"
    assert done["approvals"][0]["iss"] == "oa.example.internal"
    await problem(await desk.attach("editor", sub["id"], good), 409)
    assert any(r["action"] == "submission.attach" for r in await desk.audit())


async def test_a_gateway_token_from_post_approvals_attaches_too(desk: Desk) -> None:
    post = draft(EXECUTIVE)
    sub = await desk.submit("editor", post, EAST)
    token = await desk.org.approve("unit_head", post, [EAST])  # a program's way
    resp = await desk.attach("editor", sub["id"], token)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["approvals"][0]["role"] == "unit_head"
    forged = forge(
        desk["editor"],
        sub["content_sha256"],
        [EAST],
        now_s=time.time(),
        role="brand_pr",
        unit="brand_pr",
    )
    body = await problem(await desk.attach("editor", sub["id"], forged), 422)
    assert body["token_errors"]


async def test_two_processes_releasing_at_once_publish_each_account_once(desk: Desk) -> None:
    """Two desk services over one store (as two gateway processes) race to release."""
    when = datetime.fromtimestamp(time.time() + 60, UTC).isoformat()
    sub = await desk.submit("brand_pr", draft(), EAST, WEST, publish_at=when)
    await desk.approve("unit_head", sub["id"])
    await desk.approve("unit_head_west", sub["id"])
    service = desk.service
    other = DeskService(service.gate, SubmissionStore(service.svc.redis, service.svc.keys))
    await service.store.update(
        sub["id"], lambda s: dataclasses.replace(s, publish_at=time.time() - 1)
    )
    await asyncio.gather(
        service.release_due(),
        other.release_due(),
        service.release(sub["id"]),
        other.release(sub["id"]),
    )
    released = await desk.get("brand_pr", sub["id"])
    assert released["state"] == "publishing"
    assert sorted(j["account"] for j in released["jobs"]) == [EAST, WEST]
    jobs = await service.gate.jobs.list_jobs(limit=50)
    assert sorted(j.account for j in jobs) == [EAST, WEST]
    assert [h["action"] for h in released["history"]].count("released") == 1


async def test_a_release_interrupted_by_a_crash_is_shown_unconfirmed_not_stuck(desk: Desk) -> None:
    """The process that released died while the gate had the account in hand."""
    when = datetime.fromtimestamp(time.time() + 60, UTC).isoformat()
    sub = await desk.submit("editor", draft(), EAST, publish_at=when)
    await desk.approve("unit_head", sub["id"])
    long_ago = time.time() - 3600

    def crashed(s: Any) -> Any:
        s = s.moved("publishing", long_ago, "released", "", "handed to the gate")
        return dataclasses.replace(s, jobs=(JobRef(EAST, state=RELEASING),))

    await desk.service.store.update(sub["id"], crashed)
    seen = await desk.get("editor", sub["id"])
    assert seen["state"] == "unconfirmed"
    assert "interrupted" in seen["jobs"][0]["reason"]


async def test_editing_an_approved_submission_waiting_for_its_time_starts_over(desk: Desk) -> None:
    when = datetime.fromtimestamp(time.time() + 600, UTC).isoformat()
    sub = await desk.submit("editor", draft(), EAST, publish_at=when)
    assert (await desk.approve("unit_head", sub["id"]))["state"] == "approved"
    resp = await desk.put("editor", sub["id"], draft("华东分公司举办员工运动会，时间调整。"))
    assert resp.status == 201, await resp.text()
    new = await resp.json()
    assert new["state"] == "awaiting_approval" and new["publish_at"] == sub["publish_at"]
    assert (await desk.get("editor", sub["id"]))["state"] == "superseded"
    # the superseded version is off the schedule: nothing is released even when it is due
    assert await desk.service.store.due(time.time() + 3600) == []
    await problem(await desk.attach("editor", sub["id"], "x.y.z"), 409)
    await problem(await desk.attach("auditor", new["id"], "x.y.z"), 403)


async def test_a_failed_job_resolved_later_by_brand_pr_is_reflected(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), EAST)
    job_id = (await desk.approve("unit_head", sub["id"]))["jobs"][0]["id"]
    await desk.client.app[GATE].jobs.transition(job_id, "failed", reason="平台拒绝：内容超长")
    failed = await desk.get("editor", sub["id"])
    assert failed["state"] == "failed" and failed["jobs"][0]["reason"] == "平台拒绝：内容超长"
    resp = await desk.client.post(
        f"/v1/posts/{job_id}/resolve",
        headers=desk.h("brand_pr"),
        json={
            "resolution": "published",
            "reason": "已在平台核实发布",
            "url": "https://mp.example/resolved",
        },
    )
    assert resp.status == 200, await resp.text()
    resolved = await desk.get("editor", sub["id"])
    assert resolved["state"] == "published"
    assert resolved["jobs"][0]["url"] == "https://mp.example/resolved"
    assert [h["state"] for h in resolved["history"]][-2:] == ["failed", "published"]
