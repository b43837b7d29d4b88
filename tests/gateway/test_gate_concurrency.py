"""Racing the gate: one set of approval tokens publishes once, however many requests carry it.

The ``jti`` of each token is consumed in the same Lua script that records the job, so requests
that all pass the (non-atomic) replay pre-check still cannot both be recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import redis.asyncio as aredis

from gateway.appkeys import GATE
from gateway.jobs import ApprovalRef, Job, new_job_id
from gateway.keys import Keys
from gateway.settings import Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import EAST, FINANCIAL, PLAIN, draft, start_org

RACERS = 50


async def test_fifty_concurrent_publishes_with_the_same_tokens_make_one_job(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    org = await start_org(make_client, settings, callers)
    post = draft(FINANCIAL)
    tokens = [await org.approve(w, post, [EAST]) for w in ("unit_head", "leader", "brand_pr")]

    responses = await asyncio.gather(
        *(org.publish("editor", EAST, post, tokens) for _ in range(RACERS))
    )
    statuses = Counter(r.status for r in responses)
    assert statuses == {202: 1, 409: RACERS - 1}, statuses
    bodies = [await r.json(content_type=None) for r in responses]
    accepted = next(b for r, b in zip(responses, bodies, strict=True) if r.status == 202)
    jtis = {a["jti"] for a in accepted["approvals"]}
    for resp, body in zip(responses, bodies, strict=True):
        if resp.status == 409:
            assert resp.content_type == "application/problem+json"
            assert body["type"].endswith("/token-replayed")
            assert body["jti"] in jtis

    jobs = await org.client.app[GATE].jobs.list_jobs()
    assert [j.id for j in jobs] == [accepted["id"]]
    # Every attempt is audited. An attempt that passed every check is audited as approved
    # before its job is recorded (fail closed); if it then loses the race for the tokens, a
    # second record voids the first. Final outcome per attempt: one approved, 49 replays.
    records = [r for r in await org.audit() if r["action"] == "post.publish"]
    outcome = {r["seq"]: r["decision"] for r in records if not r["details"].get("voids")}
    assert len(outcome) == RACERS
    for r in records:
        if r["details"].get("voids"):
            assert outcome[r["details"]["voids"]] == "approved"
            outcome[r["details"]["voids"]] = r["decision"]
    assert Counter(outcome.values()) == {"approved": 1, "token-replayed": RACERS - 1}
    approved = [s for s, d in outcome.items() if d == "approved"]
    assert next(r for r in records if r["seq"] == approved[0])["details"]["job"] == accepted["id"]


async def test_the_job_record_consumes_tokens_atomically_without_the_precheck(
    make_client: MakeClient,
    settings: Settings,
    callers: dict[str, Caller],
    redis: aredis.Redis,
) -> None:
    """The Lua script alone (no pre-check): 50 jobs sharing one jti, exactly one recorded."""
    org = await start_org(make_client, settings, callers)
    store = org.client.app[GATE].jobs
    now = time.time()
    shared = ApprovalRef(
        jti="jti-shared", sub="u", role="unit_head", unit="sub_east", iss="t", exp=int(now) + 3600
    )

    def job(i: int) -> Job:
        own = ApprovalRef(
            jti=f"jti-{i}", sub="v", role="leader", unit="hq", iss="t", exp=int(now) + 3600
        )
        return Job(
            id=new_job_id(),
            kind="publish",
            account=EAST,
            platform="wechat",
            unit="sub_east",
            submitted_by="e",
            content_sha256="0" * 64,
            state="approved",
            created_at=now,
            updated_at=now,
            approvals=(own, shared),
        )

    results = await asyncio.gather(
        *(store.create(job(i), {"content": PLAIN}) for i in range(RACERS)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, Job)]
    assert len(created) == 1
    assert all(
        getattr(r, "extra", {}).get("jti") == "jti-shared"
        for r in results
        if not isinstance(r, Job)
    )
    assert [j.id for j in await store.list_jobs()] == [created[0].id]
    # the losers consumed nothing: their own token is still unused
    loser_jtis = {f"jti-{i}" for i in range(RACERS)} - {created[0].approvals[0].jti}
    keys = Keys(settings.store.key_prefix)
    assert not any([await redis.exists(keys.jti(EAST, j)) for j in loser_jtis])


async def test_same_tokens_for_another_account_of_the_token_are_independent(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    """jti is consumed per account: one approval for two accounts publishes once to each."""
    org = await start_org(make_client, settings, callers)
    await org.client.post(
        "/v1/accounts",
        headers=org["unit_head"].headers,
        json={"id": "east-wechat-2", "platform": "wechat", "name": "华东二号", "unit": "sub_east"},
    )
    resp = await org.client.post(
        "/v1/accounts/east-wechat-2/approve", headers=org["brand_pr"].headers, json={}
    )
    assert resp.status == 200, await resp.text()
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST, "east-wechat-2"])
    responses = await asyncio.gather(
        *(org.publish("editor", acc, post, [token]) for acc in [EAST, "east-wechat-2"] * 10)
    )
    per_account = Counter(
        (acc, r.status) for acc, r in zip([EAST, "east-wechat-2"] * 10, responses, strict=True)
    )
    assert per_account == {
        (EAST, 202): 1,
        (EAST, 409): 9,
        ("east-wechat-2", 202): 1,
        ("east-wechat-2", 409): 9,
    }


async def test_concurrent_edits_of_one_published_post_make_one_update(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    """Art. 19: two editors racing to change the same published item cannot both win."""
    org = await start_org(make_client, settings, callers)
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST])
    resp = await org.publish("editor", EAST, post, [token])
    job_id = (await resp.json())["id"]
    # no delivery worker runs in these tests: mark the job published as the worker would
    await org.published(job_id)
    edits = [{**post, "content": post["content"] + f"<p>更正{i}</p>"} for i in range(10)]
    tokens = [await org.approve("unit_head", e, [EAST]) for e in edits]
    responses = await asyncio.gather(
        *(
            org.client.patch(
                f"/v1/posts/{job_id}",
                headers=org["editor"].headers,
                json={"post": e, "approvals": [t]},
            )
            for e, t in zip(edits, tokens, strict=True)
        )
    )
    statuses = Counter(r.status for r in responses)
    assert statuses == {202: 1, 409: 9}, statuses
    updates = [j for j in await org.client.app[GATE].jobs.list_jobs() if j.kind == "update"]
    assert len(updates) == 1
    for resp in responses:
        if resp.status == 409:
            assert (await resp.json(content_type=None))["reason"] == "busy"

    # once that update is out (marked published, as the worker would), the next edit may go
    await org.published(updates[0].id)
    later = {**post, "content": post["content"] + "<p>再次更正</p>"}
    resp = await org.client.patch(
        f"/v1/posts/{job_id}",
        headers=org["editor"].headers,
        json={"post": later, "approvals": [await org.approve("unit_head", later, [EAST])]},
    )
    assert resp.status == 202, await resp.text()

    # and concurrent deletions of it: one deletion job
    await org.published((await resp.json())["id"])
    deletes = await asyncio.gather(
        *(
            org.client.delete(
                f"/v1/posts/{job_id}", headers=org["brand_pr"].headers, json={"reason": "撤稿"}
            )
            for _ in range(10)
        )
    )
    assert Counter(r.status for r in deletes) == {202: 1, 409: 9}
    jobs = await org.client.app[GATE].jobs.list_jobs()
    assert len([j for j in jobs if j.kind == "delete"]) == 1
