"""Command line ``mediagate``: ``serve``, ``demo``, ``keys``, ``vault``, ``audit``, ``screen``.

Installed as the ``mediagate`` script; ``run.py`` in a checkout is a thin shim over :func:`main`.
This module is the one edge that reads the environment, starts the embedded store and prints to
the terminal. ``--config``, ``--policy`` and ``--data-dir`` are accepted in one way by every
sub-command, before or after it (``mediagate --data-dir D audit verify`` and ``mediagate audit
verify --data-dir D`` are the same).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aredis
from aiohttp import web

from gateway.app import Runtime, StartupError, preload
from gateway.audit import Anchor, AuditLog, read_anchor_file
from gateway.embedded import EmbeddedStoreError
from gateway.keys import Keys
from gateway.logs import setup_logging
from gateway.principals import PrincipalStore
from gateway.processes import (
    STARTUP_FAILED,
    Stopped,
    Worker,
    WorkerFailed,
    Workers,
    process_count,
    share_metrics,
)
from gateway.runtime import resolve_runtime, store_url
from gateway.server import PortInUse, ServeHooks, base_url, bind, serve
from gateway.settings import ROLES, Settings, SettingsError, anchor_path, load_settings
from gateway.vault import Vault, generate_master_key

T = TypeVar("T")

#: How long the workers of ``server.processes`` > 1 may take to build their screeners and listen.
WORKERS_READY_TIMEOUT_S = 300.0


PROG = "mediagate"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediagate")
    except PackageNotFoundError:  # a checkout run without installing
        return "unknown (not installed)"


def _settings(args: argparse.Namespace, *, default_data_dir: str | None = None) -> Settings:
    settings = load_settings(getattr(args, "config", None), getattr(args, "policy", None))
    changes: dict[str, Any] = {}
    data_dir = getattr(args, "data_dir", None) or default_data_dir
    if data_dir:
        changes["data_dir"] = Path(data_dir).absolute()  # the one base: the working directory
    if getattr(args, "port", None) is not None:
        changes["port"] = args.port
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "processes", None) is not None:
        if args.processes < 0:
            raise SettingsError("--processes: must be 0 (one per core) or positive")
        changes["processes"] = args.processes
    if changes:
        settings = dataclasses.replace(
            settings, server=dataclasses.replace(settings.server, **changes)
        )
    return settings


def _with_store(settings: Settings, work: Callable[[aredis.Redis, Keys], Awaitable[T]]) -> T:
    with store_url(settings) as (url, _embedded):

        async def go() -> T:
            client = aredis.Redis.from_url(url)
            try:
                return await work(client, Keys(settings.store.key_prefix))
            finally:
                await client.aclose()

        return asyncio.run(go())


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _listen(settings: Settings) -> socket.socket:
    """Bind the port first, before the store and the slow start-up: a port in use is said at
    once (exit 2), not after seconds of work and a traceback."""
    return bind(settings.server.host, settings.server.port)


@contextlib.contextmanager
def _store(settings: Settings) -> Iterator[tuple[str, bool]]:
    """:func:`store_url` with a progress line."""
    if settings.store.redis_url:
        _progress("store: Redis at store.redis_url")
    else:
        _progress(f"starting the embedded store in {settings.server.data_dir / 'store'}…")
    started_at = time.perf_counter()
    with store_url(settings) as (url, embedded):
        if embedded:
            _progress(f"store ready in {time.perf_counter() - started_at:.1f} s")
        yield url, embedded


class _Progress:
    """Start-up, listening and stop lines on stderr (stdout stays for what commands print)."""

    def __init__(self) -> None:
        self._started_at = time.perf_counter()
        self._stopping_at = 0.0

    def hooks(self) -> ServeHooks:
        return ServeHooks(starting=self.starting, started=self.started, stopping=self.stopping)

    def starting(self) -> None:
        self._started_at = time.perf_counter()
        _progress("building screening automata, loading the classifier and connectors…")

    def started(self, url: str, processes: int = 1) -> None:
        _progress(f"ready in {time.perf_counter() - self._started_at:.1f} s")
        many = f"; {processes} processes" if processes > 1 else ""
        _progress(f"mediagate listening on {url} (GET /healthz{many}; Ctrl-C stops)")

    def stopping(self, reason: str) -> None:
        self._stopping_at = time.perf_counter()
        _progress(f"stopping ({reason}): finishing requests, delivery and the store…")

    def stopped(self) -> None:
        if self._stopping_at:
            _progress(f"mediagate stopped in {time.perf_counter() - self._stopping_at:.1f} s")


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.app import create_app

    settings = _settings(args)
    setup_logging(settings.logging.level, settings.logging.format)
    _progress(f"mediagate {_version()}: data dir {settings.server.data_dir}")
    progress = _Progress()
    processes = process_count(settings.server.processes)
    code = 0
    with _listen(settings) as sock, _store(settings) as (url, embedded):
        runtime = resolve_runtime(settings, url, embedded=embedded)
        if processes == 1:
            app = create_app(settings, runtime)
            app.on_startup.append(_freeze_heap)
            asyncio.run(serve(app, sock, hooks=progress.hooks()))
        else:
            code = _serve_processes(settings, runtime, sock, processes, progress)
    progress.stopped()
    return code


def _serve_processes(
    settings: Settings, runtime: Runtime, sock: socket.socket, count: int, progress: _Progress
) -> int:
    """``server.processes`` > 1: fork the workers (:mod:`gateway.processes`), say when all
    listen, and supervise them until a stop signal or a worker's end."""
    share_metrics(settings.server.data_dir / "metrics")
    progress.starting()
    runtime = preload(settings, runtime)  # built once, shared by the forked workers
    workers = Workers(count, serving_worker(settings, runtime, sock))
    workers.start()
    try:
        try:
            workers.wait_ready(WORKERS_READY_TIMEOUT_S)
        except WorkerFailed as exc:
            _progress(f"error: {exc}")
            return 2 if exc.code == STARTUP_FAILED else 1
        except Stopped as exc:
            progress.stopping(exc.signal)
            return 130 if exc.signal == "SIGINT" else 0
        workers.open(sock)
        progress.started(base_url(sock), count)
        return workers.supervise(progress.stopping)
    finally:
        workers.close()


def serving_worker(
    settings: Settings, runtime: Runtime, sock: socket.socket
) -> Callable[[Worker], None]:
    """What each forked worker of ``server.processes`` runs (also used by
    ``bench/publish_gate.py``): its own app on the shared socket until SIGTERM."""
    from gateway.app import create_app

    def work(worker: Worker) -> None:
        app = create_app(settings, dataclasses.replace(runtime, worker=worker.index))
        app.on_startup.append(_freeze_heap)
        hooks = ServeHooks(started=lambda _url: worker.ready())
        try:
            asyncio.run(serve(app, sock, hooks=hooks, worker=worker))
        except StartupError as exc:
            print(f"start-up failed: {exc}", file=sys.stderr)
            raise SystemExit(STARTUP_FAILED) from None

    return work


async def _freeze_heap(app: web.Application) -> None:
    """Move everything built at start-up (lexicon automata, policy) out of the collector's sight.

    Runs after every ``cleanup_ctx`` has opened. Without it, a request that allocates many
    objects (a large JSON body) triggers full collections that walk the whole long-lived heap
    while holding the interpreter lock: hundreds of milliseconds of stalled event loop.
    """
    gc.collect()
    gc.freeze()


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    settings = _settings(args, default_data_dir="demo-data")
    setup_logging(settings.logging.level, settings.logging.format)
    _progress(f"mediagate {_version()} demo: data dir {settings.server.data_dir}")
    progress = _Progress()
    code = run_demo(settings, _listen(settings), progress.hooks())
    progress.stopped()
    return code


def cmd_keys(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.action == "create":
        if args.unit not in settings.policy.units:
            print(
                f"unknown unit {args.unit!r}; units: {', '.join(settings.policy.units)}",
                file=sys.stderr,
            )
            return 2

        async def create(client: aredis.Redis, keys: Keys) -> int:
            issued = await PrincipalStore(client, keys).create(
                name=args.name, role=args.role, unit=args.unit
            )
            await AuditLog(client, keys).append(
                actor=_cli_actor(),
                action="key.create",
                target=issued.principal.id,
                details={"role": args.role, "unit": args.unit, "name": args.name},
            )
            print(
                f"created {args.role} key {issued.principal.id} for {args.name!r} "
                f"in unit {args.unit}; it is shown once:"
            )
            print(issued.key)
            return 0

        return _with_store(settings, create)
    if args.action == "list":

        async def listing(client: aredis.Redis, keys: Keys) -> int:
            for p in await PrincipalStore(client, keys).list_all():
                state = "revoked" if p.revoked else "active"
                print(f"{p.id}  {p.role:<10} {p.unit:<14} {state:<8} {p.name}")
            return 0

        return _with_store(settings, listing)

    async def revoke(client: aredis.Redis, keys: Keys) -> int:
        principal = await PrincipalStore(client, keys).revoke(args.key_id)
        if principal is None:
            print(f"no key {args.key_id}", file=sys.stderr)
            return 1
        await AuditLog(client, keys).append(
            actor=_cli_actor(), action="key.revoke", target=args.key_id
        )
        print(f"revoked {args.key_id}")
        return 0

    return _with_store(settings, revoke)


def _cli_actor() -> Any:
    from gateway.audit import Actor

    return Actor(id="cli", name=PROG, role="admin", unit="")


def cmd_vault(args: argparse.Namespace) -> int:
    if args.action == "genkey":
        print(generate_master_key())
        return 0
    settings = _settings(args)
    setup_logging("WARNING")

    async def rewrap(client: aredis.Redis, keys: Keys) -> int:
        runtime = resolve_runtime(settings, "", embedded=not settings.store.redis_url)
        if runtime.master_key is None:
            print(f"vault unavailable: {runtime.vault_problem}", file=sys.stderr)
            return 1
        vault = Vault(client, keys, runtime.master_key, runtime.old_master_keys)
        await AuditLog(client, keys).append(
            actor=_cli_actor(), action="vault.rewrap", details={"key_id": vault.key_id}
        )
        result = await vault.rewrap()
        print(
            f"re-wrapped {result['rewrapped']} secrets under master key {vault.key_id}; "
            f"{result['already_current']} were already current"
        )
        return 0

    return _with_store(settings, rewrap)


def cmd_audit(args: argparse.Namespace) -> int:
    settings = _settings(args)

    if args.action == "verify":
        anchor_file = Path(args.anchor_file) if args.anchor_file else anchor_path(settings)
        try:
            anchors = [Anchor.parse(a) for a in args.anchor]
            anchors += read_anchor_file(anchor_file)
        except ValueError as exc:
            print(f"audit verify: {exc}", file=sys.stderr)
            return 2

        async def verify(client: aredis.Redis, keys: Keys) -> int:
            result = await AuditLog(client, keys).verify(anchors)
            if result.ok:
                print(
                    f"audit chain intact: {result.records} records, head {result.head or '-'}; "
                    f"{result.anchors} anchors checked ({anchor_file} and --anchor)"
                )
                return 0
            print(
                f"audit chain BROKEN at record seq {result.broken_seq} "
                f"(stream id {result.broken_at}): {result.reason}"
                if result.broken_at not in ("end", "head")
                else f"audit chain BROKEN after record seq {result.broken_seq}: {result.reason}"
            )
            return 1

        return _with_store(settings, verify)

    since = _parse_since(args.since) if args.since else 0.0
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115

    async def export(client: aredis.Redis, keys: Keys) -> int:
        count = 0
        async for _eid, record in AuditLog(client, keys).records(since_ts=since):
            if record.get("ts", 0) >= since:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        print(f"exported {count} records", file=sys.stderr)
        return 0

    try:
        return _with_store(settings, export)
    finally:
        if out is not sys.stdout:
            out.close()


def _parse_since(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise SystemExit(f"--since: not an ISO date or date-time: {text!r}") from None


def cmd_screen(args: argparse.Namespace) -> int:
    """Screen a file with the configured lexicons, policy and roster; highlighted findings.

    A ``.json`` file is read as a post (or ``{"post": {...}}``); any other file is the content.
    Exit status: 0 pass, 1 review, 2 block, 3 bad input.
    """
    from gateway.screening_service import base_screener
    from screening.cli import read_fields, report

    settings = _settings(args)
    try:
        fields = read_fields(Path(args.file))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return report(base_screener(settings), fields, as_json=args.json, colour=not args.no_colour)


def _common(parser: argparse.ArgumentParser) -> None:
    """The options every sub-command takes, in the same way, before or after it.

    ``SUPPRESS`` keeps a value given at one level from being reset by a later level's default.
    """
    group = parser.add_argument_group("configuration (before or after the sub-command)")
    group.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="gateway.toml")
    group.add_argument("--policy", type=Path, default=argparse.SUPPRESS, help="policy.toml")
    group.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="data directory (default: server.data_dir, ./data; ./demo-data for demo)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="mediagate publishing gateway (no sub-command: serve)",
        epilog="relative paths are resolved against the working directory",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        made = sub.add_parser(name, **kwargs)
        _common(made)
        return made

    serve = command("serve", help="run the gateway (default)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int, help="0: any free port (printed)")
    serve.add_argument(
        "--processes", type=int, help="processes on the port (server.processes; 0: one per core)"
    )
    serve.set_defaults(func=cmd_serve)

    demo = command("demo", help="run the gateway with a demo organisation and emulators")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int, help="0: any free port (printed)")
    demo.set_defaults(func=cmd_demo)

    keys = command("keys", help="create, list or revoke API keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    create = ksub.add_parser("create")
    _common(create)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--unit", required=True)
    create.add_argument("--name", required=True)
    _common(ksub.add_parser("list"))
    rv = ksub.add_parser("revoke")
    _common(rv)
    rv.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)

    vault = command("vault", help="genkey (a new master key) or rewrap (under the new key)")
    vault.add_argument("action", choices=("genkey", "rewrap"))
    vault.set_defaults(func=cmd_vault)

    audit = command("audit", help="verify the hash chain or export JSON Lines")
    asub = audit.add_subparsers(dest="action", required=True)
    verify = asub.add_parser("verify")
    _common(verify)
    verify.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="a chain head noted earlier (from the log or GET /admin/audit/verify); repeatable",
    )
    verify.add_argument(
        "--anchor-file",
        help="anchors written by the gateway (default: data_dir/audit.anchor_file)",
    )
    exp = asub.add_parser("export")
    _common(exp)
    exp.add_argument("--since", help="ISO date or date-time")
    exp.add_argument("--output", "-o", help="file (default: stdout)")
    audit.set_defaults(func=cmd_audit)

    screen = command("screen", help="screen a text file and show the findings")
    screen.add_argument("file")
    screen.add_argument("--json", action="store_true", help="print the POST /v1/screen answer")
    screen.add_argument("--no-colour", action="store_true")
    screen.set_defaults(func=cmd_screen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args([*argv, "serve"])
    try:
        result: int = args.func(args)
        return result
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except EmbeddedStoreError as exc:
        print(f"error: the embedded store did not start: {exc}", file=sys.stderr)
        return 1
    except StartupError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
