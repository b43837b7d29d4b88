"""Delivery under platform faults, in one gateway process: every post published exactly once.

The emulators' fault switches make every publish step of every platform first answer 502 and
then hang until the connector times out; an answer can be lost after WeChat applied the step;
a worker can lose its lease to another worker mid-step. Each test counts what the emulator
actually holds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.appkeys import GATE, SERVICES, WORKER
from gateway.delivery import DeliveryWorker
from gateway.jobs import JobStore
from gateway.keys import Keys
from gateway.runtime import Runtime
from tests.delivery.conftest import (
    Emulators,
    Gateway,
    control,
    delivery_settings,
    make_post,
    start_gateway,
)

#: The requests each connector makes to publish (a fault on a path applies to every method).
PUBLISH_STEPS = {
    "wechat": [
        "/cgi-bin/stable_token",
        "/cgi-bin/media/uploadimg",
        "/cgi-bin/material/add_material",
        "/cgi-bin/draft/add",
        "/cgi-bin/freepublish/submit",
        "/cgi-bin/freepublish/get",
    ],
    "weibo": ["/2/statuses/share.json"],
    "wordpress": ["/wp-json/wp/v2/media", "/wp-json/wp/v2/posts"],
    "webhook": ["/posts"],
}
ACCOUNTS = {"wechat": "east-wechat", "weibo": "east-weibo", "wordpress": "east-wp",
            "webhook": "east-hook"}  # fmt: skip


async def published_items(emus: Emulators) -> dict[str, list[dict[str, Any]]]:
    """What each emulator holds, live items only."""
    wp = await control(emus.wordpress, "/_emulator/items")
    return {
        "wechat": [a for a in await control(emus.wechat, "/_emulator/items") if not a["deleted"]],
        "weibo": [s for s in await control(emus.weibo, "/_emulator/items") if not s["deleted"]],
        "wordpress": [p for p in wp["posts"] if p["status"] == "publish"],
        "webhook": [a for a in await control(emus.webhook, "/_emulator/items") if not a["deleted"]],
    }


@pytest.fixture
async def slow_gateway(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    emulators: Emulators,
    session: aiohttp.ClientSession,
) -> Gateway:
    """Connectors time out after 1 s (the hang faults cost that much per step)."""
    settings = delivery_settings(emulators, wechat_timeout_s=1.0)
    return await start_gateway(aiohttp_server, redis, runtime, emulators, session, settings)


async def test_5xx_and_timeouts_on_every_step_publish_exactly_once(slow_gateway: Gateway) -> None:
    gw = slow_gateway
    for platform, paths in PUBLISH_STEPS.items():
        base = getattr(gw.emus, platform)
        for path in paths:
            await control(base, "/_emulator/faults", {"path": path, "status": 502, "times": 1})
            await control(base, "/_emulator/faults", {"path": path, "hang": True, "times": 1})
    jobs = await asyncio.gather(
        *(gw.api.publish(account, make_post(i)) for i, account in enumerate(ACCOUNTS.values()))
    )
    finals = await asyncio.gather(*(gw.api.wait_final(j["id"], timeout_s=90) for j in jobs))
    stuck = [(f["reason"], f["history"]) for f in finals if f["state"] != "published"]
    assert not stuck, stuck
    for platform in PUBLISH_STEPS:  # every fault fired: each step met a 502 and a timeout
        assert await control(getattr(gw.emus, platform), "/_emulator/faults") == [], platform
    items = await published_items(gw.emus)
    counts = {platform: len(found) for platform, found in items.items()}
    assert counts == {"wechat": 1, "weibo": 1, "wordpress": 1, "webhook": 1}
    by_platform = {f["platform"]: f for f in finals}
    assert items["wechat"][0]["article_id"] == by_platform["wechat"]["platform_id"]
    assert str(items["webhook"][0]["id"]) == by_platform["webhook"]["platform_id"]
    assert str(items["wordpress"][0]["id"]) == by_platform["wordpress"]["platform_id"]
    wx = await control(gw.emus.wechat, "/_emulator/counters")
    # the submit that answered 502 may have been applied: it was reconciled, not repeated blindly
    assert wx["calls"]["freepublish/submit"] == 1


@pytest.mark.parametrize("step", ["/cgi-bin/freepublish/submit", "/cgi-bin/draft/add"])
async def test_connection_dropped_after_wechat_applied_a_step(gateway: Gateway, step: str) -> None:
    fault = {"path": step, "drop_after_apply": True, "times": 1}
    await control(gateway.emus.wechat, "/_emulator/faults", fault)
    job = await gateway.api.publish("east-wechat", make_post(7))
    final = await gateway.api.wait_final(job["id"])
    assert final["state"] == "published", final
    items = await control(gateway.emus.wechat, "/_emulator/items")
    assert len(items) == 1
    assert items[0]["article_id"] == final["platform_id"]
    counters = await control(gateway.emus.wechat, "/_emulator/counters")
    assert counters["calls"]["freepublish/submit"] == 1  # never submitted twice
    notes = " ".join(h.get("note", "") for h in final["history"])
    if step.endswith("submit"):
        assert "unconfirmed" in notes and "reconciling" in notes
        assert counters["calls"].get("freepublish/batchget", 0) >= 1  # found by reconciliation
    else:
        # draft/add was repeated; the lost draft stays behind unpublished (publishes nothing)
        assert counters["calls"]["draft/add"] == 2 and counters["drafts"] == 1


async def test_worker_that_loses_its_lease_stops_and_the_job_resumes_once(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    emulators: Emulators,
    session: aiohttp.ClientSession,
) -> None:
    """Another worker took the lease (e.g. after a pause longer than the lease): the first
    worker must stop mid-step instead of racing it; the job ends with one CMS item."""
    settings = delivery_settings(emulators, lease_s=0.6)
    gw = await start_gateway(aiohttp_server, redis, runtime, emulators, session, settings)
    await control(emulators.webhook, "/_emulator/faults", {"path": "/posts", "latency_s": 1.5,
                                                            "times": 1})  # fmt: skip
    post = make_post(9)
    tokens = await gw.api.approvals("east-hook", post)
    body = {"account": "east-hook", "post": post, "approvals": tokens}
    request = asyncio.create_task(gw.api.call("POST", "/v1/posts", "editor", body))
    prefix = Keys().job_lease("")
    lease = ""
    for _ in range(100):  # the worker claims the job within a poll interval
        async for key in redis.scan_iter(match=prefix + "*"):
            lease = key.decode()
        if lease:
            break
        await asyncio.sleep(0.02)
    assert lease, "the worker never claimed the job"
    # "another worker" takes the lease while the create is in flight at the CMS
    await redis.set(lease, "worker-elsewhere", px=5000)
    status, job = await request
    assert status == 202 and job["state"] == "dispatching", job
    assert lease == Keys().job_lease(job["id"])
    await asyncio.sleep(1.0)  # the in-flight create (1.5 s) has long finished by now
    current = await gw.api.job(job["id"])
    assert current["state"] == "dispatching", current  # the first worker stopped
    assert await redis.get(lease) == b"worker-elsewhere"
    await redis.delete(lease)  # the other worker "dies"; ours resumes from the checkpoints
    final = await gw.api.wait_final(job["id"])
    assert final["state"] == "published", final
    items = await control(emulators.webhook, "/_emulator/items")
    assert len(items) == 1 and items[0]["external_id"] == job["id"]


async def test_job_counts_are_consistent(gateway: Gateway) -> None:
    """Several posts to every platform at once: one item per post, none twice."""
    posts = [(account, make_post(f"c{i}{n}")) for i, account in enumerate(ACCOUNTS.values())
             for n in range(3)]  # fmt: skip
    jobs = await asyncio.gather(*(gateway.api.publish(a, p) for a, p in posts))
    finals = await asyncio.gather(*(gateway.api.wait_final(j["id"]) for j in jobs))
    assert Counter(f["state"] for f in finals) == {"published": 12}
    items = await published_items(gateway.emus)
    assert {p: len(v) for p, v in items.items()} == dict.fromkeys(PUBLISH_STEPS, 3)


async def test_pending_job_that_cannot_be_followed_ends_unconfirmed_not_failed(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    emulators: Emulators,
    session: aiohttp.ClientSession,
) -> None:
    """WeChat accepted the submit, then ``freepublish/get`` keeps failing until the attempts
    run out. The article is live: the job must not claim ``failed``."""
    settings = delivery_settings(emulators, max_attempts=3)
    gw = await start_gateway(aiohttp_server, redis, runtime, emulators, session, settings)
    await control(emulators.wechat, "/_emulator/faults",
                  {"path": "/cgi-bin/freepublish/get", "status": 502})  # fmt: skip
    job = await gw.api.publish("east-wechat", make_post(21))
    final = await gw.api.wait_final(job["id"])
    assert final["state"] == "unconfirmed", final
    assert "gave up after 3 attempts" in final["reason"] and "freepublish/get" in final["reason"]
    assert [p["id"] for p in await gw.api.listing("unconfirmed")] == [job["id"]]
    assert await gw.api.listing("failed") == []
    items = await control(emulators.wechat, "/_emulator/items")
    assert len(items) == 1  # it is on the platform: "failed" would have been wrong


class _CancellationToStoreError(JobStore):
    """The real job store, except that a lease renewal hangs and, when cancelled, surfaces as a
    connection error -- as the Redis client may report a command cut off by cancellation."""

    async def renew(self, job_id: str, owner: str, lease_s: float) -> bool:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RedisConnectionError("connection closed while cancelled") from None
        return False  # pragma: no cover - never reached


async def test_worker_slot_is_freed_when_cancelling_its_renewer_becomes_a_store_error(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    emulators: Emulators,
    session: aiohttp.ClientSession,
) -> None:
    """The job ends while its lease renewal is in flight; cancelling the renewer surfaces as a
    store error. The renewer must still end, or the worker slot waits on it for ever and no
    later job is delivered (the lease of the finished job stays held as long as renewals
    succeed)."""
    settings = delivery_settings(emulators, lease_s=3.0, workers=1)
    gw = await start_gateway(aiohttp_server, redis, runtime, emulators, session, settings)
    await gw.app[WORKER].stop()
    worker = DeliveryWorker(
        gw.app[SERVICES], _CancellationToStoreError(redis, Keys()), gw.app[GATE].connectors
    )
    await worker.start()
    try:
        # the create takes 1.5 s: the renewer (every 1 s) is inside renew() when the job ends
        await control(emulators.webhook, "/_emulator/faults",
                      {"path": "/posts", "latency_s": 1.5, "times": 1})  # fmt: skip
        first = await gw.api.publish("east-hook", make_post(31))
        assert (await gw.api.wait_final(first["id"]))["state"] == "published"
        second = await gw.api.publish("east-hook", make_post(32))
        assert (await gw.api.wait_final(second["id"], timeout_s=10))["state"] == "published"
        assert len(await control(emulators.webhook, "/_emulator/items")) == 2
    finally:
        await worker.stop()
