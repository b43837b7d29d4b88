"""Throughput of the publish gate: ``POST /v1/posts`` through screen + verify + audit + job record.

Starts the embedded Valkey (AOF ``everysec``) in a temporary directory and the real app from
``create_app`` on 127.0.0.1 with **no delivery worker** (``delivery.workers = 0``), so the
connector step is excluded: each accepted job stays ``approved``. The only connector loaded
(WeChat) points at a closed loopback port; nothing leaves the machine.

The request: an editor of the subsidiary ``sub_east`` publishes a ~2,000-character Chinese news
item that names the chairman (王建国) to a WeChat account of ``sub_east``, so it needs two
approvals: the subsidiary's head (Art. 17(1)) and Brand-PR (Art. 17(2)). Every request carries a
different post (its number is in the text) with two fresh tokens, all signed before timing starts.
What one request does: authenticate, parse and bound the body, NFC + canonical hash, authorise
(account active, not frozen), validate for WeChat, screen the five text fields (in the screening
executor), derive the required approvals, verify both Ed25519 tokens and their approvers, check
rejections and replay, append the hash-chained audit record, record the job and consume both jti
atomically (Lua).

Phases: ``--requests`` sequential requests (latency without queueing), then ``--concurrent``
requests with ``--concurrency`` in flight (throughput). ``--runs`` repeats both on a fresh store
and prints the median of each figure.

The gateway runs as ``mediagate serve`` with ``server.processes = --processes`` runs it: by
default one process per CPU core (``0``), forked workers accepting on one socket
(gateway/processes.py), and the load generator in a process of its own; CPU per request is the
gateway workers' together (read from ``/proc``, Linux), the load generator's printed beside it.
``--processes 1`` runs the app in this process as before: by default the load generator then
shares its event loop (CPU per request is both together, a conservative bound), or with
``--load-process`` sends from a second process (CPU per request is the gateway's alone).
Valkey's own CPU is in no figure.

Run: ``.venv/bin/python bench/publish_gate.py [--requests 300] [--concurrent 800]
[--concurrency 8] [--runs 3] [--processes 0] [--load-process]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# Run as a script, bench/ comes first on sys.path and bench/screening.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import redis.asyncio as aredis  # noqa: E402
from aiohttp import web  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from gateway.app import Runtime, create_app, preload  # noqa: E402
from gateway.approvals import ApprovalService, build_key_ring  # noqa: E402
from gateway.cli import serving_worker  # noqa: E402
from gateway.embedded import EmbeddedValkey  # noqa: E402
from gateway.gate import post_hash  # noqa: E402
from gateway.keys import Keys  # noqa: E402
from gateway.postmodel import parse_post  # noqa: E402
from gateway.principals import Principal, PrincipalStore  # noqa: E402
from gateway.processes import Workers, process_count, share_metrics  # noqa: E402
from gateway.server import bind  # noqa: E402
from gateway.settings import Settings, load_settings  # noqa: E402
from gateway.vault import MasterKey  # noqa: E402

ACCOUNT = "bench-east-wechat"
COVER = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(64))).decode()
PARAGRAPHS = (
    "华东分公司近日在杭州举办年度员工技能大赛，来自各部门的一百二十名选手参加了比赛。",
    "比赛设置了客户服务、设备维护、安全管理和数字化应用四个项目，评委由一线骨干和外部专家组成。",
    "选手们在现场展示了扎实的专业功底和良好的团队协作精神，赢得了观众的阵阵掌声。",
    "公司工会为获奖选手颁发了证书和奖品，并鼓励大家把比赛中学到的经验带回岗位。",
    "活动期间还开展了读书分享会和志愿服务活动，员工们走进社区，为居民义务讲解用电常识。",
    "下一步，华东分公司将继续完善人才培养体系，为员工成长搭建更广阔的平台。",
)


def _content(i: int, target_chars: int = 2000) -> str:
    head = f"<p>第{i}期：董事长王建国出席了华东分公司年度员工技能大赛颁奖仪式。</p>"
    parts = [head]
    n = len(head)
    k = 0
    while n < target_chars:
        para = f"<p>{PARAGRAPHS[k % len(PARAGRAPHS)]}</p>"
        parts.append(para)
        n += len(para)
        k += 1
    return "".join(parts)[:target_chars]


def _post(i: int) -> dict[str, Any]:
    return {
        "title": f"华东分公司举办员工技能大赛（第{i}期）",
        "digest": "华东分公司年度员工技能大赛圆满落幕",
        "author": "华东分公司宣传组",
        "content": _content(i),
        "source": "华东分公司综合办公室",
        "category": "news",
        "cover": {"filename": "cover.png", "content_type": "image/png", "data": COVER},
    }


@dataclass
class Phase:
    p50_ms: float
    p99_ms: float
    rps: float
    # process CPU time per request (gateway + load generator, or the gateway alone with
    # --load-process): robust to a busy host
    cpu_ms: float
    load_cpu_ms: float = 0.0  # the load generator's, when it runs in a second process
    # several gateway processes: the busiest one's share of their CPU time (0.5: even)
    busiest: float = 0.0


def _pct_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def _bench_settings(screening_workers: int | None) -> Settings:
    base = load_settings(environ={})
    screening = base.screening
    if screening_workers is not None:
        screening = replace(screening, workers=screening_workers)
    return replace(
        base,
        screening=screening,
        delivery=replace(base.delivery, workers=0),
        # one editor key sends every request: more than the default 1,200 a minute
        rate_limits=replace(base.rate_limits, per_key_per_window=1_000_000),
        connectors=replace(
            base.connectors,
            allow=("wechat",),
            sections={"wechat": {"base_url": "http://127.0.0.1:9"}},
        ),
    )


@dataclass
class _People:
    editor: str  # the editor's API key
    head: str
    brand_pr: str
    approvers: list[Principal]


async def _people(url: str, settings: Settings) -> _People:
    redis = aredis.Redis.from_url(url)
    try:
        principals = PrincipalStore(redis, Keys(settings.store.key_prefix))
        editor = await principals.create(name="bench editor", role="editor", unit="sub_east")
        head = await principals.create(name="华东负责人", role="unit_head", unit="sub_east")
        brand_pr = await principals.create(name="品牌公关", role="brand_pr", unit="brand_pr")
    finally:
        await redis.aclose()
    return _People(editor.key, head.key, brand_pr.key, [head.principal, brand_pr.principal])


def _runtime(url: str) -> Runtime:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Runtime(url, master_key=MasterKey.from_bytes(os.urandom(32)), signing_key_pem=pem)


def _one_run(args: argparse.Namespace, run_no: int) -> tuple[Phase, Phase]:
    data_dir = Path(tempfile.mkdtemp(prefix="mediagate-bench-gate-"))
    store = EmbeddedValkey(data_dir / "store", appendfsync=args.appendfsync)
    url = store.start()
    try:
        settings = _bench_settings(args.screening_workers)
        people = asyncio.run(_people(url, settings))
        runtime = _runtime(url)
        if args.processes == 1:
            return asyncio.run(_in_process(args, run_no, settings, runtime, people))
        return _forked(args, run_no, settings, runtime, people, data_dir)
    finally:
        store.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def _in_process(
    args: argparse.Namespace, run_no: int, settings: Settings, runtime: Runtime, people: _People
) -> tuple[Phase, Phase]:
    """``--processes 1``: the app in this process (and, by default, the load generator too)."""
    app = create_app(settings, runtime)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            bodies = await _prepare(session, base, settings, runtime, people, args, run_no)
            if args.load_process:
                return await _measure_from_process(base, people.editor, bodies, args)
            return await _measure(session, base, people.editor, bodies, args)
    finally:
        await runner.cleanup()


def _forked(
    args: argparse.Namespace,
    run_no: int,
    settings: Settings,
    runtime: Runtime,
    people: _People,
    data_dir: Path,
) -> tuple[Phase, Phase]:
    """The gateway as ``mediagate serve`` runs it with ``server.processes`` > 1: forked workers
    on one socket (forked before this process starts an event loop), the load generator in a
    process of its own."""
    sock = bind("127.0.0.1", 0)
    share_metrics(data_dir / "metrics")
    runtime = preload(settings, runtime)
    workers = Workers(args.processes, serving_worker(settings, runtime, sock))
    workers.start()
    try:
        workers.wait_ready(300)
        workers.open(sock)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"

        async def drive() -> tuple[Phase, Phase]:
            async with aiohttp.ClientSession() as session:
                bodies = await _prepare(session, base, settings, runtime, people, args, run_no)
            return await _measure_from_process(
                base, people.editor, bodies, args, cpu=lambda: _cpu_s(workers.pids)
            )

        return asyncio.run(drive())
    finally:
        workers.stop()
        workers.close()
        sock.close()


def _cpu_s(pids: list[int]) -> list[float]:
    """User + system CPU seconds of each of these processes so far (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = []
    for pid in pids:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        seconds.append((int(fields[11]) + int(fields[12])) / ticks)  # utime, stime
    return seconds


def _own_cpu_s() -> list[float]:
    return [time.process_time()]


async def _prepare(
    session: aiohttp.ClientSession,
    base: str,
    settings: Settings,
    runtime: Runtime,
    people: _People,
    args: argparse.Namespace,
    run_no: int,
) -> list[dict[str, Any]]:
    """File and approve the account, sign every request's tokens, say what a request is."""
    await _file_account(session, base, people.head, people.brand_pr)
    total = args.warmup + args.requests + args.concurrent
    bodies = await _presign(settings, runtime, people.approvers, total)
    if run_no == 0:
        await _check_shape(session, base, people.editor, bodies[0]["post"])
    return bodies


async def _file_account(session: aiohttp.ClientSession, base: str, head: str, pr: str) -> None:
    filing = {"id": ACCOUNT, "platform": "wechat", "name": "华东分公司公众号", "unit": "sub_east"}
    async with session.post(
        f"{base}/v1/accounts", json=filing, headers={"Authorization": f"Bearer {head}"}
    ) as resp:
        assert resp.status == 201, await resp.text()
    async with session.post(
        f"{base}/v1/accounts/{ACCOUNT}/approve", json={}, headers={"Authorization": f"Bearer {pr}"}
    ) as resp:
        assert resp.status == 200, await resp.text()


async def _presign(
    settings: Settings, runtime: Runtime, approvers: list[Principal], n: int
) -> list[dict[str, Any]]:
    """``n`` publish bodies, each a distinct post with its two fresh tokens (signed now, with
    the gateway's signing key)."""
    redis = aredis.Redis.from_url(runtime.redis_url)
    keys = Keys(settings.store.key_prefix)
    ring, can_issue = build_key_ring(settings, runtime.signing_key_pem)
    approvals = ApprovalService(settings, redis, keys, PrincipalStore(redis, keys), ring, can_issue)
    await redis.aclose()
    bodies = []
    for i in range(n):
        post = _post(i)
        digest = post_hash(parse_post(post, settings.limits))
        tokens = [
            approvals.sign(a, accounts=[ACCOUNT], content_sha256=digest, decision="approve")[0]
            for a in approvers
        ]
        bodies.append({"account": ACCOUNT, "post": post, "approvals": tokens})
    return bodies


async def _check_shape(
    session: aiohttp.ClientSession, base: str, editor: str, post: dict[str, Any]
) -> None:
    """Print what the measured request is: its size, screening decision, required approvals."""
    async with session.post(
        f"{base}/v1/screen",
        json={"post": post, "account": ACCOUNT},
        headers={"Authorization": f"Bearer {editor}"},
    ) as resp:
        screened = await resp.json()
    roles = [
        a["role"] + (f"@{a['unit']}" if a.get("unit") else "")
        for a in screened["required_approvals"]
    ]
    print(
        f"post: {len(post['content'])} characters of content; screening "
        f"{screened['decision']}; findings {[f['category'] for f in screened['findings']]}; "
        f"required approvals {roles}"
    )


async def _send(
    session: aiohttp.ClientSession, base: str, headers: dict[str, str], body: dict[str, Any]
) -> None:
    async with session.post(f"{base}/v1/posts", json=body, headers=headers) as resp:
        if resp.status != 202:
            raise SystemExit(f"POST /v1/posts: {resp.status} {await resp.text()}")
        await resp.read()


async def _measure(
    session: aiohttp.ClientSession,
    base: str,
    editor: str,
    bodies: list[dict[str, Any]],
    args: argparse.Namespace,
) -> tuple[Phase, Phase]:
    headers = {"Authorization": f"Bearer {editor}"}
    queue = iter(bodies)
    for _ in range(args.warmup):
        await _send(session, base, headers, next(queue))

    seq: list[float] = []
    cpu0 = time.process_time()
    started = time.perf_counter()
    for _ in range(args.requests):
        t0 = time.perf_counter()
        await _send(session, base, headers, next(queue))
        seq.append(time.perf_counter() - t0)
    seq_s = time.perf_counter() - started
    seq_cpu_s = time.process_time() - cpu0

    conc: list[float] = []
    remaining = [args.concurrent]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            body = next(queue)
            t0 = time.perf_counter()
            await _send(session, base, headers, body)
            conc.append(time.perf_counter() - t0)

    cpu0 = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    conc_s = time.perf_counter() - started
    conc_cpu_s = time.process_time() - cpu0
    return (
        Phase(_pct_ms(seq, 0.5), _pct_ms(seq, 0.99), len(seq) / seq_s, seq_cpu_s * 1000 / len(seq)),
        Phase(
            _pct_ms(conc, 0.5),
            _pct_ms(conc, 0.99),
            len(conc) / conc_s,
            conc_cpu_s * 1000 / len(conc),
        ),
    )


async def _measure_from_process(
    base: str,
    editor: str,
    bodies: list[dict[str, Any]],
    args: argparse.Namespace,
    cpu: Callable[[], list[float]] = _own_cpu_s,
) -> tuple[Phase, Phase]:
    """:func:`_measure` with the requests sent by a second process (:func:`_load_process`);
    the gateway's CPU time (``cpu``: this process's, or the forked workers') is counted between
    the phase marks that process sends."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    options = {k: getattr(args, k) for k in ("warmup", "requests", "concurrent", "concurrency")}
    proc = ctx.Process(target=_load_process, args=(theirs, base, editor, bodies, options))
    proc.start()
    loop = asyncio.get_running_loop()
    phases: list[Phase] = []
    cpu0 = cpu()
    try:
        while len(phases) < 2:
            message = await loop.run_in_executor(None, ours.recv)
            if message[0] == "error":
                raise SystemExit(message[1])
            if message[0] == "start":
                cpu0 = cpu()
                continue
            _, latencies, wall_s, load_cpu_s = message
            n = len(latencies)
            spent = [b - a for a, b in zip(cpu0, cpu(), strict=True)]
            phases.append(
                Phase(
                    _pct_ms(latencies, 0.5),
                    _pct_ms(latencies, 0.99),
                    n / wall_s,
                    sum(spent) * 1000 / n,
                    load_cpu_s * 1000 / n,
                    max(spent) / sum(spent) if len(spent) > 1 and sum(spent) else 0.0,
                )
            )
    finally:
        await loop.run_in_executor(None, proc.join, 30)
        if proc.is_alive():
            proc.kill()
    return phases[0], phases[1]


def _load_process(
    conn: Any, base: str, editor: str, bodies: list[dict[str, Any]], options: dict[str, int]
) -> None:
    """The load generator of ``--load-process``: warm-up, then both phases, each announced with
    ("start",) and reported as ("end", latencies, wall seconds, own CPU seconds)."""

    async def run() -> None:
        connector = aiohttp.TCPConnector(limit=options["concurrency"])
        async with aiohttp.ClientSession(connector=connector) as session:
            headers = {"Authorization": f"Bearer {editor}"}
            queue = iter(bodies)
            for _ in range(options["warmup"]):
                await _send(session, base, headers, next(queue))

            async def worker(count: list[int], latencies: list[float]) -> None:
                while count[0] > 0:
                    count[0] -= 1
                    body = next(queue)
                    t0 = time.perf_counter()
                    await _send(session, base, headers, body)
                    latencies.append(time.perf_counter() - t0)

            for n, in_flight in (
                (options["requests"], 1),
                (options["concurrent"], options["concurrency"]),
            ):
                latencies: list[float] = []
                count = [n]
                conn.send(("start",))
                cpu0, started = time.process_time(), time.perf_counter()
                await asyncio.gather(*(worker(count, latencies) for _ in range(in_flight)))
                wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu0
                conn.send(("end", latencies, wall_s, cpu_s))

    try:
        asyncio.run(run())
    except BaseException as exc:  # the gateway side must not wait for ever
        conn.send(("error", f"load process: {exc!r}"))
        raise


def _row(name: str, p: Phase) -> str:
    row = f"{name:<28} {p.p50_ms:>7.2f} ms {p.p99_ms:>7.2f} ms {p.rps:>8.1f} {p.cpu_ms:>8.2f} ms"
    row += f" {p.load_cpu_ms:>8.2f} ms" if p.load_cpu_ms else ""
    return row + (f" {p.busiest * 100:>9.0f} %" if p.busiest else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential requests")
    parser.add_argument("--concurrent", type=int, default=800, help="requests in the 2nd phase")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3, help="fresh store per run; median shown")
    parser.add_argument(
        "--screening-workers", type=int, default=None, help="screening threads (default: config)"
    )
    parser.add_argument("--appendfsync", choices=("everysec", "always"), default="everysec")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="gateway processes (server.processes; default 0: one per CPU core); 1: the app "
        "in this process",
    )
    parser.add_argument(
        "--load-process",
        action="store_true",
        help="with --processes 1: send the requests from a second process (CPU/req is then "
        "the gateway's alone); always so with more processes",
    )
    args = parser.parse_args(argv)
    args.processes = process_count(args.processes)
    args.load_process = args.load_process or args.processes > 1

    results = [_one_run(args, i) for i in range(args.runs)]
    workers = args.screening_workers or load_settings(environ={}).screening.workers
    print(
        f"POST /v1/posts, connector excluded; embedded Valkey appendfsync={args.appendfsync}; "
        f"{args.processes} gateway process(es), screening threads {workers} each; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.runs} run(s)"
    )
    header = f"{'phase':<28} {'p50':>10} {'p99':>10} {'req/s':>8} {'CPU/req':>11}"
    if args.load_process:
        header += f" {'load CPU/req':>11}"
        if args.processes > 1:
            header += f" {'busiest':>11}"
        print(
            "load generator in a process of its own: CPU/req is the gateway's "
            f"({args.processes} process(es) together) alone"
        )
    else:
        print("load generator in the gateway's process: CPU/req is both together")
    if args.processes > 1:
        print("busiest: the busiest gateway process's share of their CPU time (50 %: even)")
    print(header)
    print("-" * len(header))
    for i, (seq, conc) in enumerate(results):
        print(_row(f"run {i + 1} sequential", seq))
        print(_row(f"run {i + 1} {args.concurrency} in flight", conc))

    def med(phase: int, attr: str) -> float:
        return statistics.median(getattr(r[phase], attr) for r in results)

    for phase, name in ((0, "median sequential"), (1, f"median {args.concurrency} in flight")):
        medians = Phase(
            *(
                med(phase, a)
                for a in ("p50_ms", "p99_ms", "rps", "cpu_ms", "load_cpu_ms", "busiest")
            )
        )
        print(_row(name, medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
