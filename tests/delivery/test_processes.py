"""Two real gateway processes (``python run.py serve``) on one store, racing and being killed.

The module starts one embedded Valkey, the four emulators (each on a thread of its own) and two
gateway processes once -- a gateway takes ~15 s to build its screening automata -- and runs:

* 20 concurrent publishes through both processes: at most one WeChat token fetch per account;
* both processes racing for the same queued jobs and for the refresh of revoked tokens;
* the process holding a WeChat job SIGKILLed while its ``freepublish/submit`` hangs (between
  ``draft/add`` and a confirmed submit) and restarted: the job resumes after its 2 s lease
  expires and ends with exactly one article.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis

from connectors.emulators.wechat import DEFAULT_DAILY_QUOTAS
from gateway.embedded import EmbeddedValkey
from gateway.keys import Keys
from tests.delivery.conftest import (
    Api,
    Emulators,
    GatewayProcess,
    ThreadedEmulator,
    account_setup,
    control,
    create_callers,
    gateway_toml,
    make_post,
    webhook_app,
    wechat_app,
    wechat_fields,
    weibo_app,
    wordpress_app,
)

pytestmark = pytest.mark.slow
_QUOTAS = {**DEFAULT_DAILY_QUOTAS, "freepublish/get": 1000, "freepublish/batchget": 1000}


@dataclass
class Cluster:
    url: str
    emus: Emulators
    gateways: list[GatewayProcess]
    keys: dict[str, str]


def _short_dir(root: Path) -> Path:
    if len(str(root / "store" / "valkey.sock")) < 90:
        return root / "store"
    return Path(tempfile.mkdtemp(prefix="mg-", dir="/tmp")) / "store"


async def _setup_org(url: str, gateway_url: str) -> dict[str, str]:
    client = aredis.Redis.from_url(url)
    try:
        keys = await create_callers(client)
    finally:
        await client.aclose()
    return keys


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("processes")
    store = EmbeddedValkey(_short_dir(root))
    url = store.start()
    threads = [
        # 30-odd WeChat jobs poll freepublish/get more than its 100/day quota allows
        ThreadedEmulator(wechat_app(publish_delay_s=0.5, daily_quotas=_QUOTAS)),
        ThreadedEmulator(weibo_app()),
        ThreadedEmulator(wordpress_app()),
        ThreadedEmulator(webhook_app()),
    ]
    gateways: list[GatewayProcess] = []
    try:
        emus = Emulators(*(t.start() for t in threads))
        for i in range(2):
            config = gateway_toml(root / f"gateway{i}.toml", emus=emus, lease_s=2.0)
            gateways.append(GatewayProcess(config, root / f"data{i}", url))
        for gw in gateways:
            gw.start()
        for gw in gateways:
            gw.wait_ready()
        keys = asyncio.run(_setup_org(url, gateways[0].url))
        yield Cluster(url, emus, gateways, keys)
    finally:
        for gw in gateways:
            gw.stop()
        for t in threads:
            t.stop()
        store.stop()


@pytest.fixture
async def apis(cluster: Cluster) -> AsyncIterator[list[Api]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield [Api(gw.url, cluster.keys, session) for gw in cluster.gateways]


@pytest.fixture
async def accounts(cluster: Cluster, apis: list[Api]) -> dict[str, str]:
    """Fresh accounts for this test (two WeChat accounts with their own AppIDs, one CMS)."""
    suffix = str(int(time.time() * 1000))[-7:]
    setup = account_setup(cluster.emus)
    wanted = {
        f"wx1-{suffix}": ("wechat", {}, wechat_fields("wx_east_app")),
        f"wx2-{suffix}": ("wechat", {}, wechat_fields("wx_west_app")),
        f"hook-{suffix}": setup["east-hook"],
    }
    for account, (platform, settings, fields) in wanted.items():
        await apis[0].file_account(account, platform, settings, fields)
    return {"wx1": f"wx1-{suffix}", "wx2": f"wx2-{suffix}", "hook": f"hook-{suffix}"}


async def _owners(api: Api, job_id: str) -> list[str]:
    history = (await api.job(job_id))["history"]
    return [h["note"].split()[-1] for h in history if h["note"].startswith("claimed by")]


async def _finals(cluster: Cluster, api: Api, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every job's final state; on a time-out, what the store says about the stuck ones."""
    try:
        return list(await asyncio.gather(*(api.wait_final(j["id"], timeout_s=45) for j in jobs)))
    except AssertionError as exc:
        client = aredis.Redis.from_url(cluster.url)
        try:
            keys = Keys()
            stuck = []
            for job in jobs:
                current = await api.job(job["id"])
                if current["state"] not in ("published", "failed", "unconfirmed"):
                    lease = await client.get(keys.job_lease(job["id"]))
                    ttl = await client.pttl(keys.job_lease(job["id"]))
                    due = await client.zscore(keys.job_queue(), job["id"])
                    stuck.append((job["id"], current["state"], lease, ttl, due, time.time()))
        finally:
            await client.aclose()
        raise AssertionError(f"{exc}; stuck: {stuck}") from None


async def _all_owners(api: Api, jobs: list[dict[str, Any]]) -> Counter[str]:
    owners: Counter[str] = Counter()
    for job in jobs:
        owners.update(await _owners(api, job["id"]))
    return owners


async def test_twenty_concurrent_publishes_fetch_one_wechat_token_per_account(
    cluster: Cluster, apis: list[Api], accounts: dict[str, str]
) -> None:
    wx = cluster.emus.wechat
    before = await control(wx, "/_emulator/counters")
    items_before = len(await control(wx, "/_emulator/items"))
    targets = [accounts["wx1"] if i % 2 else accounts["wx2"] for i in range(20)]
    posts = [make_post(f"并发{i}", images=1) for i in range(20)]
    pairs = list(zip(targets, posts, strict=True))
    tokens = await asyncio.gather(*(apis[i % 2].approvals(a, p) for i, (a, p) in enumerate(pairs)))
    jobs = await asyncio.gather(
        *(apis[i % 2].publish(a, p, tokens[i]) for i, (a, p) in enumerate(pairs))
    )
    finals = await _finals(cluster, apis[0], jobs)
    assert Counter(f["state"] for f in finals) == {"published": 20}, finals
    after = await control(wx, "/_emulator/counters")
    fetches = after["token_fetches"] - before["token_fetches"]
    # two fresh accounts, each needs one: 2 means exactly one stable_token fetch per account
    assert fetches == 2, after
    items = await control(wx, "/_emulator/items")
    assert len(items) - items_before == 20
    ids = [f["platform_id"] for f in finals]
    assert len(set(ids)) == 20 and set(ids) <= {a["article_id"] for a in items}
    owners = await _all_owners(apis[0], jobs)
    assert len(owners) >= 2, owners  # both processes delivered
    print(f"\n20 publishes: {fetches} token fetch(es); jobs per worker {dict(owners)}")


async def test_two_processes_race_for_the_same_jobs_and_the_token_refresh(
    cluster: Cluster, apis: list[Api], accounts: dict[str, str]
) -> None:
    wx, hook = cluster.emus.wechat, cluster.emus.webhook
    # Both accounts get a cached token first (one publish each) ...
    warm = [await apis[0].publish(accounts[a], make_post(f"预热{a}")) for a in ("wx1", "wx2")]
    for job in warm:
        assert (await apis[0].wait_final(job["id"]))["state"] == "published"
    # ... then every token is revoked: the first calls of both processes are rejected (40001)
    # and both want to refresh the same two tokens at the same time.
    await control(wx, "/_emulator/revoke_tokens", {})
    before = await control(wx, "/_emulator/counters")
    wx_before = {a["article_id"] for a in await control(wx, "/_emulator/items")}
    hook_before = len(await control(hook, "/_emulator/items"))
    targets = [accounts["wx1"], accounts["wx2"], accounts["hook"]] * 4
    posts = [make_post(f"竞争{i}") for i in range(len(targets))]
    tokens = [await apis[1].approvals(a, p) for a, p in zip(targets, posts, strict=True)]
    # Queue every job through one process; both workers race to claim them.
    triples = zip(targets, posts, tokens, strict=True)
    jobs = await asyncio.gather(*(apis[1].publish(a, p, t) for a, p, t in triples))
    finals = await _finals(cluster, apis[0], jobs)
    assert Counter(f["state"] for f in finals) == {"published": len(jobs)}, finals
    after = await control(wx, "/_emulator/counters")
    # exactly one refresh per account (the other process, and the other jobs, found it cached)
    assert after["token_fetches"] - before["token_fetches"] == 2, after
    new_articles = [a for a in await control(wx, "/_emulator/items")
                    if a["article_id"] not in wx_before]  # fmt: skip
    titles = Counter(a["articles"][0]["title"] for a in new_articles)
    assert len(new_articles) == 8 and set(titles.values()) == {1}, titles
    cms = (await control(hook, "/_emulator/items"))[hook_before:]
    hook_jobs = sorted(j["id"] for j in jobs if j["account"] == accounts["hook"])
    assert sorted(a["external_id"] for a in cms) == hook_jobs  # each exactly once
    owners = await _all_owners(apis[0], jobs)
    assert sum(owners.values()) == len(jobs)  # each job dispatched once, by one worker
    print(f"\nrace: jobs per worker {dict(owners)}")


async def _holder(cluster: Cluster, apis: list[Api], job_id: str) -> int:
    """Index of the gateway process whose worker holds the job's lease."""
    client = aredis.Redis.from_url(cluster.url)
    try:
        raw = await client.get(Keys().job_lease(job_id))
        owner = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    finally:
        await client.aclose()
    for i, api in enumerate(apis):
        async with api.session.get(api.base_url + "/healthz") as r:
            health = await r.json()
        if health["parts"]["delivery"]["worker"] == owner:
            return i
    raise AssertionError(f"no gateway owns the lease of {job_id} ({owner!r})")


async def test_sigkill_between_draft_add_and_submit_resumes_to_one_article(
    cluster: Cluster, apis: list[Api], accounts: dict[str, str]
) -> None:
    """The process holding the job is killed while its submit is on the wire (WeChat never
    answers it and never applies it). The surviving process takes the job over once the 2 s
    lease has expired, finds the ``submitting`` marker, reconciles (no article carries the
    cover, the draft still exists) and -- only after ``submit_settle_s`` -- submits once."""
    wx = cluster.emus.wechat
    before = await control(wx, "/_emulator/counters")
    wx_before = {a["article_id"] for a in await control(wx, "/_emulator/items")}
    fault = {"path": "/cgi-bin/freepublish/submit", "hang": True, "times": 1}
    await control(wx, "/_emulator/faults", fault)
    post = make_post("断电")
    tokens = await apis[0].approvals(accounts["wx1"], post)
    body = {"account": accounts["wx1"], "post": post, "approvals": tokens}
    request = asyncio.create_task(apis[0].call("POST", "/v1/posts", "editor", body))
    for _ in range(200):  # until the submit is on the wire (the fault has been taken)
        if await control(wx, "/_emulator/faults") == []:
            break
        await asyncio.sleep(0.025)
    else:
        raise AssertionError("the submit was never sent")
    # the job id: the newest job of the account
    listing = await apis[1].listing("dispatching")
    job_id = next(j["id"] for j in listing if j["account"] == accounts["wx1"])
    victim = await _holder(cluster, apis, job_id)
    cluster.gateways[victim].kill()
    request.cancel()
    client = aredis.Redis.from_url(cluster.url)
    try:
        checkpoints = await client.hgetall(Keys().job_checkpoints(job_id))
    finally:
        await client.aclose()
    state = {(k.decode() if isinstance(k, bytes) else k): json.loads(v)
             for k, v in checkpoints.items()}  # fmt: skip
    assert state.get("draft_media_id") and state.get("submitting") is True, state
    assert "publish_id" not in state, state  # killed between draft/add and a known submit

    cluster.gateways[victim].start()  # restarted; meanwhile the survivor takes over
    final = await apis[1 - victim].wait_final(job_id, timeout_s=60)
    assert final["state"] == "published", final
    owners = await _owners(apis[1 - victim], job_id)
    assert len(owners) == 1  # claimed once (approved → dispatching); resumed, not restarted
    after = await control(wx, "/_emulator/counters")
    new_articles = [a for a in await control(wx, "/_emulator/items")
                    if a["article_id"] not in wx_before]  # fmt: skip
    assert len(new_articles) == 1 and new_articles[0]["article_id"] == final["platform_id"]
    submits = after["calls"]["freepublish/submit"] - before["calls"].get("freepublish/submit", 0)
    assert submits == 1, submits  # the hung submit never reached the handler
    await asyncio.to_thread(cluster.gateways[victim].wait_ready)
    print(f"\nSIGKILL: gateway {victim} killed mid-submit; 1 article, {submits} submit applied")
