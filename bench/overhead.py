"""Request overhead of an authenticated, audited state change on one gateway process.

Starts the embedded Valkey (AOF ``everysec``) in a temporary directory and the real app from
``create_app`` on 127.0.0.1, creates a unit head and an admin, then measures:

* ``GET /livez``                  -- the baseline: routing, middleware, no store;
* ``POST /v1/accounts`` (re-file) -- authenticate (1 GET), validate, audit-first (hash-chained
                                     XADD via Lua), version the account (MULTI);
* ``POST /admin/freeze`` + ``/admin/unfreeze`` alternately -- the emergency switch, audited.

Each scenario runs N sequential requests (latency without queueing) and then C requests in
flight for a bounded time (throughput). The load generator runs in the same process and event
loop as the gateway, so the figures are a conservative bound for one process; the ratio to
``/livez`` cancels most of that shared cost.

Run: ``.venv/bin/python bench/overhead.py [--requests 2000] [--concurrency 8] [--seconds 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/screening.py would shadow the package.
# The repository this file lives in comes first, so the gateway measured is the one checked out.
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

Send = Callable[[aiohttp.ClientSession, int], Awaitable[None]]


@dataclass
class Result:
    name: str
    p50_ms: float
    p99_ms: float
    seq_rps: float
    conc_p50_ms: float
    conc_p99_ms: float
    conc_rps: float


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def _expect(resp: aiohttp.ClientResponse, status: int) -> None:
    if resp.status != status:
        raise SystemExit(f"{resp.method} {resp.url.path}: {resp.status} {await resp.text()}")
    await resp.read()


def _scenarios(base: str, head: str, admin: str) -> dict[str, Send]:
    head_h = {"Authorization": f"Bearer {head}"}
    admin_h = {"Authorization": f"Bearer {admin}"}
    filing = {"id": "bench-weibo", "platform": "weibo", "name": "基准账号", "unit": "sub_east"}

    async def livez(session: aiohttp.ClientSession, i: int) -> None:
        async with session.get(f"{base}/livez") as resp:
            await _expect(resp, 200)

    async def refile(session: aiohttp.ClientSession, i: int) -> None:
        async with session.post(f"{base}/v1/accounts", json=filing, headers=head_h) as resp:
            await _expect(resp, 201)

    async def freeze_unfreeze(session: aiohttp.ClientSession, i: int) -> None:
        path = "/admin/freeze" if i % 2 == 0 else "/admin/unfreeze"
        body = {"scope": "unit", "id": "sub_west", "reason": "bench"}
        async with session.post(f"{base}{path}", json=body, headers=admin_h) as resp:
            await _expect(resp, 201 if i % 2 == 0 else 200)

    return {
        "GET /livez (baseline)": livez,
        "POST /v1/accounts (re-file)": refile,
        "POST /admin/freeze|unfreeze": freeze_unfreeze,
    }


async def _measure(
    session: aiohttp.ClientSession, name: str, send: Send, args: argparse.Namespace
) -> Result:
    for i in range(args.warmup):
        await send(session, i)
    seq: list[float] = []
    started = time.perf_counter()
    for i in range(args.requests):
        t0 = time.perf_counter()
        await send(session, i)
        seq.append(time.perf_counter() - t0)
    seq_s = time.perf_counter() - started

    conc: list[float] = []
    deadline = time.perf_counter() + args.seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await send(session, next(counter))
            conc.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    conc_s = time.perf_counter() - started
    return Result(
        name,
        _pct(seq, 0.5),
        _pct(seq, 0.99),
        len(seq) / seq_s,
        _pct(conc, 0.5),
        _pct(conc, 0.99),
        len(conc) / conc_s,
    )


async def run(args: argparse.Namespace) -> list[Result]:
    data_dir = Path(tempfile.mkdtemp(prefix="mediagate-bench-"))
    store = EmbeddedValkey(data_dir / "store", appendfsync=args.appendfsync)
    url = store.start()
    try:
        settings = load_settings(environ={})
        redis = aredis.Redis.from_url(url)
        principals = PrincipalStore(redis, Keys(settings.store.key_prefix))
        head = (await principals.create(name="bench head", role="unit_head", unit="sub_east")).key
        admin = (await principals.create(name="bench admin", role="admin", unit="hq")).key
        await redis.aclose()
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
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        results = []
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        try:
            async with aiohttp.ClientSession(connector=connector) as session:
                for name, send in _scenarios(base, head, admin).items():
                    results.append(await _measure(session, name, send, args))
        finally:
            await runner.cleanup()
        return results
    finally:
        store.stop()


def _report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"mediagate overhead: {args.requests} sequential, then {args.concurrency} in flight for "
        f"{args.seconds:g}s; embedded Valkey appendfsync={args.appendfsync}; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    header = (
        f"{'scenario':<30} {'seq p50':>8} {'seq p99':>8} {'seq r/s':>8} "
        f"{'c p50':>8} {'c p99':>8} {'c r/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<30} {r.p50_ms:>6.2f}ms {r.p99_ms:>6.2f}ms {r.seq_rps:>8.0f} "
            f"{r.conc_p50_ms:>6.2f}ms {r.conc_p99_ms:>6.2f}ms {r.conc_rps:>8.0f}"
        )
    base = results[0]
    for r in results[1:]:
        print(
            f"{r.name}: {r.p50_ms - base.p50_ms:+.2f} ms p50 over /livez "
            f"(x{r.p50_ms / base.p50_ms:.1f}); throughput x{r.conc_rps / base.conc_rps:.2f} "
            f"of /livez"
        )
    median_ms = statistics.median(r.p50_ms for r in results[1:])
    print(f"median sequential p50 of the state changes: {median_ms:.2f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=5.0, help="concurrent phase length")
    parser.add_argument("--appendfsync", choices=("everysec", "always"), default="everysec")
    args = parser.parse_args(argv)
    _report(asyncio.run(run(args)), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
