"""What one bypass-reconciler pass over a WeChat account costs (docs/bypass.md).

Starts, in one process: an embedded Valkey (AOF ``everysec``) in a temporary directory and the
WeChat emulator on 127.0.0.1. Seeds the store directly (no screening, no HTTP API): one active
account with its credentials in the vault, ``--items`` published jobs inside the window whose
articles are live on the emulator with the approved content, ``--old`` published jobs (and
articles) older than the window, and ``--others`` jobs of other accounts (the reconciler reads
the whole job index once, then keeps a per-account index of its own). Then passes over the
account with the real ``Reconciler`` and ``WeChatConnector``: the first (cold: the whole job
index read, every listed job's content reduced to its visible text) and ``--passes`` more
(warm). Reported: the time of the cold pass, p50/max of the warm ones, the gateway-side part of
a pass (building the view from the jobs), the platform calls per pass and that no alert was
raised.

Run: ``.venv/bin/python bench/reconciler.py [--items 100] [--old 1000] [--others 10000]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/screening.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import redis.asyncio as aredis  # noqa: E402
from aiohttp import web  # noqa: E402

from connectors.emulators import wechat as wechat_emulator  # noqa: E402
from connectors.wechat import WeChatConnector  # noqa: E402
from gateway.accounts import AccountRegistry  # noqa: E402
from gateway.audit import AuditLog  # noqa: E402
from gateway.embedded import EmbeddedValkey  # noqa: E402
from gateway.freeze import FreezeSwitch  # noqa: E402
from gateway.jobs import Job, JobStore, new_job_id  # noqa: E402
from gateway.keys import Keys  # noqa: E402
from gateway.metrics import Metrics  # noqa: E402
from gateway.postmodel import Post, post_to_stored  # noqa: E402
from gateway.principals import PrincipalStore  # noqa: E402
from gateway.services import Services  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.vault import MasterKey, Vault  # noqa: E402
from gateway.watch.reconciler import Reconciler  # noqa: E402

APP = ("wx_bench_app", "wx-bench-secret-0123")
ACCOUNT = "bench-wechat"


def _post(n: int) -> Post:
    paragraphs = "".join(f"<p>第{n}篇第{i}段：集团发布年度品牌战略白皮书。</p>" for i in range(20))
    return Post(
        title=f"集团新闻{n}",
        digest="摘要",
        author="品牌部",
        content=paragraphs + '<p><img src="image:0"></p>',
        source="集团",
        category="news",
    )


async def _seed(
    jobs: JobStore, state: wechat_emulator.WeChatState, args: argparse.Namespace
) -> None:
    now = time.time()
    window_s = 3 * 86400.0
    plan = [(ACCOUNT, now - window_s * i / (args.items + 1), True) for i in range(args.items)]
    plan += [(ACCOUNT, now - window_s - 3600 * (i + 1), True) for i in range(args.old)]
    plan += [(f"other-{i % 20}", now - 60 * i, False) for i in range(args.others)]
    for n, (account, at, live) in enumerate(plan):
        post = _post(n)
        sha = hashlib.sha256(post.content.encode()).hexdigest()
        article_id = f"bench-article-{n}"
        job = Job(
            id=new_job_id(),
            kind="publish",
            account=account,
            platform="wechat",
            unit="hq",
            submitted_by="bench",
            content_sha256=sha,
            state="published",
            created_at=at,
            updated_at=at,
            title=post.title,
            platform_id=article_id,
            url=f"https://mp.weixin.qq.com/s/{article_id}",
        )
        await jobs.create(job, post_to_stored(post), now=at)
        if live:
            state.articles[article_id] = wechat_emulator.Article(
                article_id=article_id,
                publish_id=0,
                articles=[{"title": post.title, "content": post.content}],
                url=job.url,
                create_time=int(at),
            )
    # the emulator lists in insertion order, newest last: sort by time like the platform
    ordered = sorted(state.articles.values(), key=lambda a: a.create_time)
    state.articles.clear()
    state.articles.update({a.article_id: a for a in ordered})


async def run(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="mediagate-bench-"))
    store = EmbeddedValkey(data_dir / "store")
    url = store.start()
    emulator = wechat_emulator.make_app(
        app_id_secrets={APP[0]: APP[1]},
        daily_quotas={"freepublish/batchget": 10**6, "freepublish/getarticle": 10**6},
    )
    runner = web.AppRunner(emulator, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    emu = f"http://127.0.0.1:{runner.addresses[0][1]}"
    redis = aredis.Redis.from_url(url)
    try:
        settings = load_settings(environ={})
        keys = Keys(settings.store.key_prefix)
        vault = Vault(redis, keys, MasterKey.from_bytes(os.urandom(32)))
        svc = Services(
            settings=settings,
            redis=redis,
            keys=keys,
            principals=PrincipalStore(redis, keys),
            accounts=AccountRegistry(redis, keys),
            freeze=FreezeSwitch(redis, keys),
            audit=AuditLog(redis, keys),
            metrics=Metrics(),
            vault_=vault,
        )
        await svc.accounts.file(
            account_id=ACCOUNT,
            platform="wechat",
            name="bench",
            unit="hq",
            operators=[],
            settings={},
            filed_by="bench",
        )
        account = await svc.accounts.decide(ACCOUNT, approve=True, by="bench")
        await vault.put(ACCOUNT, {"app_id": APP[0], "app_secret": APP[1]}, actor="bench")
        state = emulator[wechat_emulator.STATE_KEY]
        print(
            f"seeding {args.items} items in the window, {args.old} older, "
            f"{args.others} jobs of other accounts ...",
            flush=True,
        )
        await _seed(JobStore(redis, keys), state, args)
        async with aiohttp.ClientSession() as session:
            connector = WeChatConnector.from_config({"base_url": emu}, session=session)
            reconciler = Reconciler(svc, {"wechat": connector})
            calls_before = state.calls["freepublish/batchget"]
            started = time.perf_counter()
            cold = await reconciler.run_pass(account)
            cold_s = time.perf_counter() - started
            assert cold.listed and not cold.alerts, cold
            calls_per_pass = state.calls["freepublish/batchget"] - calls_before
            warm, views = [], []
            for _ in range(args.passes):
                started = time.perf_counter()
                report = await reconciler.run_pass(account)
                warm.append(time.perf_counter() - started)
                assert report.listed and not report.alerts, report
                started = time.perf_counter()
                await reconciler.view(account, connector)
                views.append(time.perf_counter() - started)
        store_jobs = args.items + args.old + args.others
        print(
            f"\njobs in the store: {store_jobs}; items listed per pass: {cold.items_seen}; "
            f"freepublish/batchget calls per pass: {calls_per_pass}; "
            f"getarticle calls: {state.calls['freepublish/getarticle']}; alerts: 0"
        )
        print(
            f"cold pass (the job index scanned for the account's jobs, every listed job's "
            f"content read once): {cold_s * 1000:.0f} ms"
        )
        print(
            f"warm pass: p50 {statistics.median(warm) * 1000:.0f} ms, "
            f"max {max(warm) * 1000:.0f} ms ({args.passes} passes)"
        )
        print(
            f"  of which the gateway's view ({args.items + args.old} jobs of the account "
            f"through its index, {store_jobs} in the store): "
            f"p50 {statistics.median(views) * 1000:.0f} ms"
        )
    finally:
        await redis.aclose()
        await runner.cleanup()
        store.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100, help="published items in the window")
    parser.add_argument("--old", type=int, default=1000, help="published items before it")
    parser.add_argument("--others", type=int, default=10000, help="jobs of other accounts")
    parser.add_argument("--passes", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
