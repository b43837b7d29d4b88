"""The Redis server restarts while jobs are in flight: nothing is lost, nothing published twice.

A dedicated embedded Valkey (AOF, ``appendfsync always``) is stopped while WeChat jobs wait for
the platform and webhook/WordPress creates are on the wire, and started again on the same data
directory. Every post must end published exactly once (or ``unconfirmed`` with a reason).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aredis

from gateway.app import Runtime
from gateway.embedded import EmbeddedValkey
from tests.delivery.conftest import (
    MASTER,
    SIGNING_PEM,
    Emulators,
    control,
    delivery_settings,
    make_post,
    start_gateway,
)
from tests.delivery.test_faults import published_items


def _data_dir(tmp_path: Path) -> Path:
    """A directory short enough for the server's socket to live in it (same URL on restart)."""
    if len(str(tmp_path / "store" / "valkey.sock")) < 90:
        return tmp_path / "store"
    return Path(tempfile.mkdtemp(prefix="mg-", dir="/tmp")) / "store"


async def test_store_restart_mid_run_loses_nothing_and_repeats_nothing(
    aiohttp_server: Any,
    screener: Any,
    emulators: Emulators,
    session: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    data_dir = _data_dir(tmp_path)
    store = EmbeddedValkey(data_dir, appendfsync="always")
    url = store.start()
    client = aredis.Redis.from_url(url)
    gw = None
    try:
        runtime = Runtime(
            redis_url=url, master_key=MASTER, signing_key_pem=SIGNING_PEM, screener=screener
        )
        settings = delivery_settings(emulators, lease_s=2.0)
        gw = await start_gateway(aiohttp_server, client, runtime, emulators, session, settings)
        await control(emulators.wechat, "/_emulator/config", {"publish_delay_s": 5.0})
        for base, path in ((emulators.webhook, "/posts"),
                           (emulators.wordpress, "/wp-json/wp/v2/posts")):  # fmt: skip
            await control(base, "/_emulator/faults", {"path": path, "latency_s": 4.0, "times": 2})
        posts = [
            *(("east-wechat", make_post(f"w{i}")) for i in range(3)),
            *(("east-hook", make_post(f"h{i}")) for i in range(2)),
            *(("east-wp", make_post(f"p{i}")) for i in range(2)),
            ("east-weibo", make_post("b0")),
        ]
        jobs = await asyncio.gather(*(gw.api.publish(a, p) for a, p in posts))
        in_flight = Counter(j["state"] for j in jobs)
        assert in_flight["published"] < len(jobs), in_flight  # most are still on their way

        store.stop()  # creates are on the wire, WeChat jobs are pending
        await asyncio.sleep(1.5)
        store = EmbeddedValkey(data_dir, appendfsync="always")
        assert store.start() == url

        finals = await asyncio.gather(*(gw.api.wait_final(j["id"], timeout_s=60) for j in jobs))
        for final in finals:
            assert final["state"] in ("published", "unconfirmed"), final
            if final["state"] == "unconfirmed":
                assert final["reason"], final
        items = await published_items(emulators)
        counts = {platform: len(found) for platform, found in items.items()}
        published = Counter(f["platform"] for f in finals if f["state"] == "published")
        unconfirmed = Counter(f["platform"] for f in finals if f["state"] == "unconfirmed")
        for platform, n in Counter(f["platform"] for f in finals).items():
            # every published post is on the platform once; an unconfirmed one at most once
            assert published[platform] <= counts[platform] <= n, (platform, counts, finals)
            assert counts[platform] <= published[platform] + unconfirmed[platform]
        titles = [a["articles"][0]["title"] for a in items["wechat"]]
        assert len(titles) == len(set(titles)) == 3
        assert sorted(a["external_id"] for a in items["webhook"]) == sorted(
            j["id"] for j in jobs if j["account"] == "east-hook"
        )
    finally:
        if gw is not None:
            await gw.server.close()
        await client.aclose()
        store.stop()
