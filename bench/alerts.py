"""Latency of reading bypass alerts: ``GET /v1/alerts`` (Brand-PR, all; a unit head, scoped; one
account; open only), ``GET /v1/alerts/{id}``, and the weekly report with its alerts table, with
``--alerts`` alerts in the store.

Starts the embedded Valkey in a temporary directory and the real app on 127.0.0.1 (no delivery
worker, no connector called), files 20 accounts over two subsidiaries, raises the alerts with
``AlertStore.raise_once`` as the reconciler would (spread over the last 90 days, a third of them
acknowledged), then times each call sequentially.

Run: ``.venv/bin/python bench/alerts.py [--alerts 10000] [--rounds 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import redis.asyncio as aredis  # noqa: E402
from aiohttp import web  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from gateway.app import Runtime, create_app  # noqa: E402
from gateway.embedded import EmbeddedValkey  # noqa: E402
from gateway.keys import Keys  # noqa: E402
from gateway.principals import PrincipalStore  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.vault import MasterKey  # noqa: E402
from gateway.watch.alerts import (  # noqa: E402
    ALERT_KINDS,
    Alert,
    AlertStore,
    dedupe_key,
    new_alert_id,
)

UNITS = ("sub_east", "sub_west")
EDIT = "--- a\n+++ b\n@@ -1 +1 @@\n-旧\n+新\n"


async def _run(n_alerts: int, rounds: int) -> dict[str, list[float]]:
    data_dir = Path(tempfile.mkdtemp(prefix="mediagate-bench-alerts-"))
    store = EmbeddedValkey(data_dir / "store")
    url = store.start()
    runner: web.AppRunner | None = None
    try:
        base_settings = load_settings(environ={})
        settings = dataclasses.replace(
            base_settings,
            delivery=dataclasses.replace(base_settings.delivery, workers=0),
            connectors=dataclasses.replace(
                base_settings.connectors,
                allow=("wechat",),
                sections={"wechat": {"base_url": "http://127.0.0.1:9"}},
            ),
        )
        keys = Keys(settings.store.key_prefix)
        redis = aredis.Redis.from_url(url)
        principals = PrincipalStore(redis, keys)
        brand_pr = await principals.create(name="品牌公关", role="brand_pr", unit="brand_pr")
        head = await principals.create(name="华东负责人", role="unit_head", unit="sub_east")
        admin = await principals.create(name="管理员", role="admin", unit="hq")
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        runtime = Runtime(url, master_key=MasterKey.from_bytes(os.urandom(32)), signing_key_pem=pem)
        runner = web.AppRunner(create_app(settings, runtime), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        pr = {"Authorization": f"Bearer {brand_pr.key}"}
        accounts = [(f"bench-{UNITS[i % 2][4:]}-{i:02d}", UNITS[i % 2]) for i in range(20)]
        async with aiohttp.ClientSession() as s:
            for account, unit in accounts:
                body = {"id": account, "platform": "wechat", "name": account, "unit": unit}
                hdr = {"Authorization": f"Bearer {admin.key}"}
                async with s.post(base + "/v1/accounts", json=body, headers=hdr) as r:
                    assert r.status == 201, await r.text()
                approve = base + f"/v1/accounts/{account}/approve"
                async with s.post(approve, json={}, headers=pr) as r:
                    assert r.status == 200, await r.text()
            alerts = AlertStore(redis, keys)
            rng, now = random.Random(7), time.time()
            ids = []
            for i in range(n_alerts):
                account, unit = accounts[i % len(accounts)]
                kind = ALERT_KINDS[i % 3]
                alert = Alert(
                    id=new_alert_id(),
                    kind=kind,  # type: ignore[arg-type]
                    account=account,
                    platform="wechat",
                    unit=unit,
                    platform_id=f"wx-{i}",
                    detected_at=now - rng.uniform(0, 90 * 86400),
                    title=f"第{i}篇未经审批的文章",
                    diff=EDIT if kind == "unapproved_edit" else "",
                )
                await alerts.raise_once(alert, dedupe_key(kind, account, alert.platform_id))
                if i % 3 == 0:
                    await alerts.close(alert.id, "acknowledged", by=brand_pr.principal.id, note="x")
                ids.append(alert.id)
            hd = {"Authorization": f"Bearer {head.key}"}
            calls = {
                "list, Brand-PR, limit 100": ("/v1/alerts", pr),
                "list, open only": ("/v1/alerts?state=open", pr),
                "list, one account": (f"/v1/alerts?account={accounts[0][0]}", pr),
                "list, unit head (scoped)": ("/v1/alerts", hd),
                "one alert": (f"/v1/alerts/{ids[0]}", pr),
                "weekly report (JSON)": ("/v1/reports/weekly", pr),
            }
            times: dict[str, list[float]] = {name: [] for name in calls}
            for name, (path, headers) in calls.items():
                for i in range(rounds + 5):
                    t0 = time.perf_counter()
                    async with s.get(base + path, headers=headers) as r:
                        await r.read()
                        assert r.status == 200, (path, r.status)
                    if i >= 5:
                        times[name].append(time.perf_counter() - t0)
        await redis.aclose()
        return times
    finally:
        if runner is not None:
            await runner.cleanup()
        store.stop()


def _pct_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.alerts} alerts")
    times = asyncio.run(_run(args.alerts, args.rounds))
    print(f"{'call':<28} {'p50':>9} {'p99':>9}")
    for name, values in times.items():
        print(f"{name:<28} {_pct_ms(values, 0.5):>6.1f} ms {_pct_ms(values, 0.99):>6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
