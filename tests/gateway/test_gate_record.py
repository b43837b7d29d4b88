"""Recording an accepted publish (:meth:`PublishGate.record`): the approval's audit record, the
job and the consumption of its tokens are one script, the record first. If the record cannot
be written nothing is (fail closed); if the job cannot be recorded after it, the answer and the
audit trail are what they were when these were two steps."""

from __future__ import annotations

import redis.asyncio as aredis

from gateway.appkeys import GATE
from gateway.keys import Keys
from gateway.settings import Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import EAST, PLAIN, draft, problem, start_org


async def test_no_audit_record_no_job_and_the_tokens_stay_unused(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller], redis: aredis.Redis
) -> None:
    org = await start_org(make_client, settings, callers)
    keys = Keys(settings.store.key_prefix)
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST])
    before = await org.audit()
    stream = await redis.dump(keys.audit_stream())
    await redis.delete(keys.audit_stream())
    await redis.set(keys.audit_stream(), "not a stream")  # XADD fails, inside the script

    body = await problem(await org.publish("editor", EAST, post, [token]), 503)
    assert body["reason"] == "audit_unavailable"
    assert await org.client.app[GATE].jobs.list_jobs() == []
    assert await redis.keys(keys.jti(EAST, "*")) == []

    await redis.delete(keys.audit_stream())
    await redis.restore(keys.audit_stream(), 0, stream or b"")
    assert await org.audit() == before
    resp = await org.publish("editor", EAST, post, [token])  # the same token, unused
    assert resp.status == 202, await resp.text()
    records = await org.audit()
    assert len(records) == len(before) + 1 and records[-1]["decision"] == "approved"
    assert records[-1]["details"]["job"] == (await resp.json())["id"]


async def test_a_job_that_cannot_be_recorded_after_its_approval_is_a_store_outage(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller], redis: aredis.Redis
) -> None:
    # The approval's record is written first; a store error recording the job after it is 503
    # (store_unavailable), with that record left in the chain, as when they were two steps.
    org = await start_org(make_client, settings, callers)
    keys = Keys(settings.store.key_prefix)
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST])
    await redis.set(keys.job_queue(), "not a sorted set")  # the job step's ZADD fails

    body = await problem(await org.publish("editor", EAST, post, [token]), 503)
    assert body["reason"] == "store_unavailable"
    records = await org.audit()
    assert records[-1]["action"] == "post.publish" and records[-1]["decision"] == "approved"
    assert (await org.client.app[GATE].svc.audit.verify()).ok

    # the chain goes on from that record: the next audited action chains onto it
    await redis.delete(keys.job_queue())
    other = draft(PLAIN + "<p>二</p>")
    resp = await org.publish("editor", EAST, other, [await org.approve("unit_head", other, [EAST])])
    assert resp.status == 202, await resp.text()
    assert (await org.client.app[GATE].svc.audit.verify()).ok
