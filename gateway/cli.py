"""Command line: ``serve``, ``demo``, ``keys``, ``vault``, ``audit``, ``screen``.

``run.py`` is a thin shim over :func:`main`. This module is the one edge that reads the
environment, starts the embedded store and prints to the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aredis
from aiohttp import web

from gateway.audit import Anchor, AuditLog, read_anchor_file
from gateway.keys import Keys
from gateway.logs import setup_logging
from gateway.principals import PrincipalStore
from gateway.runtime import resolve_runtime, store_url
from gateway.server import serve
from gateway.settings import ROLES, Settings, SettingsError, anchor_path, load_settings
from gateway.vault import Vault, generate_master_key

T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config, args.policy)
    changes: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        changes["data_dir"] = Path(args.data_dir)
    if getattr(args, "port", None):
        changes["port"] = args.port
    if getattr(args, "host", None):
        changes["host"] = args.host
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


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.app import create_app

    settings = _settings(args)
    setup_logging(settings.logging.level, settings.logging.format)
    with store_url(settings) as (url, embedded):
        runtime = resolve_runtime(settings, url, embedded=embedded)
        where = "embedded Valkey in " + str(settings.server.data_dir) if embedded else "Redis"
        print(
            f"mediagate listening on http://{settings.server.host}:{settings.server.port} "
            f"(store: {where})",
            flush=True,
        )
        app = create_app(settings, runtime)
        app.on_startup.append(_freeze_heap)
        asyncio.run(serve(app, settings.server.host, settings.server.port))
    return 0


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

    settings = _settings(args)
    setup_logging(settings.logging.level, settings.logging.format)
    return run_demo(settings)


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

    return Actor(id="cli", name="run.py", role="admin", unit="")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py", description="mediagate publishing gateway")
    parser.add_argument("--config", type=Path, default=None, help="gateway.toml")
    parser.add_argument("--policy", type=Path, default=None, help="policy.toml")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the gateway (default)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="run the gateway with a demo organisation and emulators")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--data-dir", default="demo-data")
    demo.set_defaults(func=cmd_demo)

    keys = sub.add_parser("keys", help="create, list or revoke API keys")
    keys.add_argument("--data-dir")
    ksub = keys.add_subparsers(dest="action", required=True)
    create = ksub.add_parser("create")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--unit", required=True)
    create.add_argument("--name", required=True)
    ksub.add_parser("list")
    rv = ksub.add_parser("revoke")
    rv.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)

    vault = sub.add_parser("vault", help="genkey (a new master key) or rewrap (under the new key)")
    vault.add_argument("--data-dir")
    vault.add_argument("action", choices=("genkey", "rewrap"))
    vault.set_defaults(func=cmd_vault)

    audit = sub.add_parser("audit", help="verify the hash chain or export JSON Lines")
    audit.add_argument("--data-dir")
    asub = audit.add_subparsers(dest="action", required=True)
    verify = asub.add_parser("verify")
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
    exp.add_argument("--since", help="ISO date or date-time")
    exp.add_argument("--output", "-o", help="file (default: stdout)")
    audit.set_defaults(func=cmd_audit)

    screen = sub.add_parser("screen", help="screen a text file and show the findings")
    screen.add_argument("file")
    screen.add_argument("--json", action="store_true", help="print the POST /v1/screen answer")
    screen.add_argument("--no-colour", action="store_true")
    screen.set_defaults(func=cmd_screen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args([*(argv or sys.argv[1:]), "serve"])
    try:
        result: int = args.func(args)
        return result
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
