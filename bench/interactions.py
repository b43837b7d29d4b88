"""Latency of the interaction gate: ``POST /v1/interactions`` up to the recorded job.

Starts the embedded Valkey (AOF ``everysec``) in a temporary directory and the real app on
127.0.0.1 with **no delivery worker**, so the platform call is excluded and each accepted job
stays ``approved``. The only connector loaded (Weibo) points at a closed loopback port.

Two requests, each measured ``--requests`` times sequentially after a warm-up, every one with a
different text (its number is in it):

* ``comment``: a named operator of the account comments (~60 characters); the default policy
  needs no approval: authenticate, parse, hash, authorise, resolve and validate the target,
  screen the text, derive approvals (none), audit, record the job;
* ``repost+token``: the same operator reposts; the unit head's token (signed before timing) is
  verified (Ed25519, approver, unit) and its jti consumed atomically with the job.

Run: ``.venv/bin/python bench/interactions.py [--requests 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import redis.asyncio as aredis  # noqa: E402
from aiohttp import web  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from gateway.app import Runtime, create_app  # noqa: E402
from gateway.appkeys import GATE  # noqa: E402
from gateway.embedded import EmbeddedValkey  # noqa: E402
from gateway.interactions.model import InteractionRequest  # noqa: E402
from gateway.keys import Keys  # noqa: E402
from gateway.principals import PrincipalStore  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.vault import MasterKey  # noqa: E402

ACCOUNT = "bench-east-weibo"
TEXT = "感谢大家对本次新品发布会的关注，更多信息请留意我们的后续发布，欢迎留言交流。第{i}条"


def _body(kind: str, i: int) -> dict[str, Any]:
    return {
        "account": ACCOUNT,
        "kind": kind,
        "target": {"platform_id": str(4_900_000_000_000_000 + i)},
        "text": TEXT.format(i=i),
    }


def _pct_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def _measure(
    session: aiohttp.ClientSession, url: str, key: str, bodies: list[dict[str, Any]]
) -> tuple[float, float, float]:
    headers = {"Authorization": f"Bearer {key}"}
    times: list[float] = []
    cpu0 = time.process_time()
    for body in bodies:
        t0 = time.perf_counter()
        async with session.post(url, json=body, headers=headers) as resp:
            if resp.status != 202:
                raise SystemExit(f"POST /v1/interactions: {resp.status} {await resp.text()}")
            await resp.read()
        times.append(time.perf_counter() - t0)
    cpu_ms = (time.process_time() - cpu0) * 1000 / len(bodies)
    return _pct_ms(times, 0.5), _pct_ms(times, 0.99), cpu_ms


async def run(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="mediagate-bench-interactions-"))
    store = EmbeddedValkey(data_dir / "store")
    url = store.start()
    try:
        base_settings = load_settings(environ={})
        settings = replace(
            base_settings,
            delivery=replace(base_settings.delivery, workers=0),
            connectors=replace(
                base_settings.connectors,
                allow=("weibo",),
                sections={"weibo": {"base_url": "http://127.0.0.1:9"}},
            ),
        )
        redis = aredis.Redis.from_url(url)
        principals = PrincipalStore(redis, Keys(settings.store.key_prefix))
        editor = await principals.create(name="bench operator", role="editor", unit="sub_east")
        head = await principals.create(name="华东负责人", role="unit_head", unit="sub_east")
        brand_pr = await principals.create(name="品牌公关", role="brand_pr", unit="brand_pr")
        await redis.aclose()
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        runtime = Runtime(url, master_key=MasterKey.from_bytes(os.urandom(32)), signing_key_pem=pem)
        app = create_app(settings, runtime)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as session:
                filing = {
                    "id": ACCOUNT,
                    "platform": "weibo",
                    "name": "华东分公司微博",
                    "unit": "sub_east",
                    "operators": ["bench operator"],
                    "settings": {"link": "https://www.example.com/", "rip": "203.0.113.7"},
                }
                for path, key, body, want in (
                    ("/v1/accounts", head.key, filing, 201),
                    (f"/v1/accounts/{ACCOUNT}/approve", brand_pr.key, {}, 200),
                ):
                    async with session.post(
                        base + path, json=body, headers={"Authorization": f"Bearer {key}"}
                    ) as resp:
                        assert resp.status == want, await resp.text()
                n = args.warmup + args.requests
                comments = [_body("comment", i) for i in range(n)]
                approvals = app[GATE].approvals
                reposts = []
                for i in range(n):
                    body = _body("repost", i)
                    digest = InteractionRequest.parse(body).content_sha256
                    token, _ = approvals.sign(
                        head.principal,
                        accounts=[ACCOUNT],
                        content_sha256=digest,
                        decision="approve",
                    )
                    reposts.append({**body, "approvals": [token]})
                # warm both paths first (screening threads, allocator, store): the first
                # few hundred requests of a fresh process are slower whichever comes first
                for bodies in (comments, reposts):
                    await _measure(
                        session, base + "/v1/interactions", editor.key, bodies[: args.warmup]
                    )
                print(f"{'request':<16} {'p50':>9} {'p99':>9} {'CPU/request':>12}")
                for name, bodies in (("comment", comments), ("repost+token", reposts)):
                    p50, p99, cpu = await _measure(
                        session, base + "/v1/interactions", editor.key, bodies[args.warmup :]
                    )
                    print(f"{name:<16} {p50:>6.2f} ms {p99:>6.2f} ms {cpu:>9.2f} ms")
        finally:
            await runner.cleanup()
    finally:
        store.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=200)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
