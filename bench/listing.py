"""Bypass-detection listings: time and platform calls of ``recent()`` and ``fetch()`` per platform.

For Weibo, WordPress and the webhook CMS, against their emulators on loopback (one process): the
account holds ``--items`` items made through the console calls; ``recent(since=0, limit=N)`` is
timed for each ``--limits`` value (p50 of ``--repeat`` runs) with the number of listing calls it
made, and ``fetch()`` of one item (p50). What a pass of the reconciler costs in platform quota
follows from the calls: Weibo counts every call against its hourly limits.

    .venv/bin/python bench/listing.py --items 1000 --limits 20 100 500 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.base import AccountRef
from connectors.emulators import webhook_cms, weibo, wordpress
from connectors.webhook import WebhookConnector
from connectors.weibo import WeiboConnector
from connectors.wordpress import WordPressConnector


@dataclass
class Ctx:
    """The little a listing needs of a publish context (no checkpoints, no token cache)."""

    account: AccountRef
    secrets: Mapping[str, str]
    job_id: str = "bench"
    state: dict[str, Any] = field(default_factory=dict)
    tokens: Any = None

    async def credentials(self) -> Mapping[str, str]:
        return self.secrets

    async def checkpoint(self, **updates: Any) -> None:
        self.state.update(updates)


PLATFORMS: dict[str, dict[str, Any]] = {
    "weibo": {
        "app": lambda: weibo.make_app(tokens={"t": "1404376560"}, calls_per_hour=10**9),
        "connector": WeiboConnector,
        "settings": {"link": "https://www.example.com/a", "rip": "1.1.1.1"},
        "secrets": {"access_token": "t"},
        "counter": (weibo.STATE_KEY, "user_timeline"),
    },
    "wordpress": {
        "app": lambda: wordpress.make_app(users={"editor": ["pw"]}, utc_offset_h=8),
        "connector": WordPressConnector,
        "settings": {},
        "secrets": {"username": "editor", "app_password": "pw"},
        "counter": (wordpress.STATE_KEY, "posts.list"),
    },
    "webhook": {
        "app": lambda: webhook_cms.make_app(secret="s"),
        "connector": WebhookConnector,
        "settings": {},
        "secrets": {"secret": "s"},
        "counter": (webhook_cms.STATE_KEY, "list"),
    },
}


async def bench(name: str, items: int, limits: list[int], repeat: int) -> None:
    spec = PLATFORMS[name]
    app = spec["app"]()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    key, counter = spec["counter"]
    try:
        async with aiohttp.ClientSession() as session:
            for n in range(items):
                body = {
                    "title": f"第{n}篇",
                    "content": f"<p>正文{n}，全角\u3000空格&amp;实体。</p>",
                }
                async with session.post(f"{base}/_emulator/console/publish", json=body) as resp:
                    assert resp.status == 201, await resp.text()
                    last = (await resp.json())["platform_id"]
            conn = spec["connector"].from_config({"base_url": base}, session=session)
            ctx = Ctx(AccountRef("bench", name, "bench", spec["settings"]), spec["secrets"])
            for limit in limits:
                times, calls = [], 0
                for _ in range(repeat):
                    before = app[key].counters[counter]
                    start = time.perf_counter()
                    got = await conn.recent(ctx, since=0, limit=limit)
                    times.append(time.perf_counter() - start)
                    calls = app[key].counters[counter] - before
                    assert len(got) == min(limit, items)
                print(
                    f"{name:9} items={items:5} limit={limit:4} listed={min(limit, items):4} "
                    f"calls={calls:2} p50={statistics.median(times) * 1000:7.1f} ms"
                )
            fetches = []
            for _ in range(repeat * 4):
                start = time.perf_counter()
                assert await conn.fetch(ctx, last) is not None
                fetches.append(time.perf_counter() - start)
            print(f"{name:9} fetch p50={statistics.median(fetches) * 1000:.1f} ms")
    finally:
        await runner.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--limits", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=sorted(PLATFORMS), nargs="*")
    args = parser.parse_args()
    for name in args.only or PLATFORMS:
        await bench(name, args.items, args.limits, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
