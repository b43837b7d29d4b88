"""Scheduled publishing: an approved submission waits for ``publish_at``; then the scheduler
releases it through the gate, which checks the account and screens again at that moment."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

from gateway.settings import IssuerSettings, Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.desk.desk_support import Desk, problem
from tests.gateway.desk.test_decisions import OA_PUBLIC, oa_token
from tests.gateway.gate_support import EAST, draft, start_org


def at(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_from_now, UTC).isoformat()


async def jobs_for(desk: Desk, account: str) -> list[Any]:
    return [j for j in await desk.service.gate.jobs.list_jobs(limit=100) if j.account == account]


async def test_not_published_before_its_time_and_released_within_seconds_after(
    desk: Desk,
) -> None:
    sub = await desk.submit("editor", draft(), EAST, publish_at=at(3.0))
    approved = await desk.approve("unit_head", sub["id"])
    assert approved["state"] == "approved" and approved["jobs"] == []
    due = sub["publish_at"]
    while time.time() < due - 0.3:  # the scheduler ticks meanwhile and must hold it back
        seen = await desk.get("editor", sub["id"])
        assert seen["state"] == "approved", seen["history"]
        assert await jobs_for(desk, EAST) == []
        await asyncio.sleep(0.2)
    released = await desk.wait_state(
        "editor", sub["id"], "publishing", timeout_s=due + 5 - time.time()
    )
    at_release = next(h["at"] for h in released["history"] if h["action"] == "released")
    assert due <= at_release <= due + 3.0, at_release - due
    jobs: list[Any] = []
    while not jobs and time.time() < due + 8:
        jobs = await jobs_for(desk, EAST)
        await asyncio.sleep(0.05)
    (job,) = jobs  # handed to the delivery queue, once, seconds after its time
    assert due <= job.created_at <= due + 3.0
    await desk.job_published(job.id)
    published = await desk.wait_state("editor", sub["id"], "published")
    assert published["jobs"][0]["url"]


async def test_a_freeze_after_approval_stops_a_scheduled_post(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), EAST, publish_at=at(2.0))
    assert (await desk.approve("unit_head", sub["id"]))["state"] == "approved"
    resp = await desk.client.post(
        "/admin/freeze",
        headers=desk.h("brand_pr"),
        json={"scope": "account", "id": EAST, "reason": "应急处置"},
    )
    assert resp.status in (200, 201), await resp.text()
    failed = await desk.wait_state("editor", sub["id"], "failed", timeout_s=10)
    assert "frozen" in failed["jobs"][0]["reason"]
    assert await jobs_for(desk, EAST) == []  # nothing reached the gate's queue


async def test_a_term_blocked_after_approval_stops_a_scheduled_post(desk: Desk) -> None:
    """Screened again at release with the lexicons of that moment."""
    post = draft("华东分公司启动青鸾计划，员工踊跃参与。")
    sub = await desk.submit("editor", post, EAST, publish_at=at(2.0))
    assert (await desk.approve("unit_head", sub["id"]))["state"] == "approved"
    resp = await desk.client.post(
        "/admin/lexicons/codename/terms",
        headers=desk.h("brand_pr"),
        json={"terms": ["青鸾计划"], "severity": "high", "action": "block"},
    )
    assert resp.status == 201, await resp.text()
    failed = await desk.wait_state("editor", sub["id"], "failed", timeout_s=10)
    assert failed["jobs"][0]["reason"]
    assert await jobs_for(desk, EAST) == []


async def test_cancelled_before_its_time_it_is_never_published(desk: Desk) -> None:
    sub = await desk.submit("editor", draft(), EAST, publish_at=at(1.5))
    await desk.approve("unit_head", sub["id"])
    resp = await desk.withdraw("editor", sub["id"])
    assert resp.status == 200, await resp.text()
    await asyncio.sleep(2.5)
    assert (await desk.get("editor", sub["id"]))["state"] == "withdrawn"
    assert await jobs_for(desk, EAST) == []


async def test_publish_at_beyond_what_approvals_outlive_is_refused(desk: Desk) -> None:
    ttl_s = desk.settings.approvals.token_ttl_s
    body = {"account": EAST, "post": draft(), "publish_at": at(ttl_s - 60)}
    data = await problem(await desk.submit_raw("editor", body), 422)
    assert "publish_at" in str(data)


async def test_an_oa_token_expiring_before_publish_at_is_refused_at_attach(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    """An OA approval valid for an hour cannot carry a post scheduled in two hours: refused
    when attached, not discovered at release."""
    issuer = IssuerSettings(
        kid="oa-2026", issuer="oa.example.internal", public_key=OA_PUBLIC, roles=("unit_head",)
    )
    with_oa = dataclasses.replace(
        settings, approvals=dataclasses.replace(settings.approvals, issuers=(issuer,))
    )
    desk = Desk(await start_org(make_client, with_oa, callers))
    later = await desk.submit("editor", draft(), EAST, publish_at=at(7200))
    token = oa_token("oa-1", "unit_head", "sub_east", later["content_sha256"], [EAST])  # 1 h
    body = await problem(await desk.attach("editor", later["id"], token), 422)
    assert body["token_errors"][0]["code"] == "expires_before_publish_at"
    assert (await desk.get("editor", later["id"]))["approvals"] == []
    # the same token is fine for a post scheduled within its lifetime (less the margin)
    soon = await desk.submit("editor", draft(title="半小时后"), EAST, publish_at=at(1800))
    token = oa_token("oa-1", "unit_head", "sub_east", soon["content_sha256"], [EAST])
    resp = await desk.attach("editor", soon["id"], token)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "approved"
