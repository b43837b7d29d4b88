"""What the gateway adds to one publish, against calling the platform directly, in one run.

Starts, in one process: an embedded Valkey (AOF ``everysec``) in a temporary directory, the
webhook-CMS (or WordPress) emulator and the real gateway app on 127.0.0.1, files an account,
stores its credentials in the vault and pre-issues approvals for every post. Then, sequentially:

* **direct** -- the connector's ``publish()`` against the emulator with an in-memory context:
  the platform round trips themselves (images, item create), nothing of the gateway;
* **gateway** -- ``POST /v1/posts`` with the approvals, through authenticate → authorise →
  validate → screen → verify approvals → audit → record the job → the worker publishes with
  Redis checkpoints → outcome audit, until the answer ``201 published``.

Both publish the same kind of post (text, one in-article image, a cover). Reported: p50/p99 of
each, the added latency (gateway − direct at p50 and p99) and the ratio of the p50s. The load
generator shares the event loop with the gateway and the emulator, so the figures are an upper
bound for one process.

Run: ``.venv/bin/python bench/delivery.py [--posts 200] [--platform webhook|wordpress]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Mapping
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

from connectors.base import AccountRef, Connector, Image, OutboundPost  # noqa: E402
from connectors.emulators import webhook_cms, wordpress  # noqa: E402
from connectors.webhook import WebhookConnector  # noqa: E402
from connectors.wordpress import WordPressConnector  # noqa: E402
from gateway.app import Runtime, create_app  # noqa: E402
from gateway.embedded import EmbeddedValkey  # noqa: E402
from gateway.keys import Keys  # noqa: E402
from gateway.principals import PrincipalStore  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.vault import MasterKey  # noqa: E402

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2048
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 2048
HOOK_SECRET = "bench-webhook-secret"
WP_USER, WP_PASSWORD = "editor", "abcd EFGH 1234 ijkl MNOP 5678"
ROLES = {
    "editor": ("editor", "sub_east"),
    "unit_head": ("unit_head", "sub_east"),
    "brand_pr": ("brand_pr", "brand_pr"),
    "leader": ("leader", "hq"),
    "admin": ("admin", "hq"),
}


def _post(n: int) -> dict[str, Any]:
    def img(name: str, data: bytes, ctype: str) -> dict[str, str]:
        return {"filename": name, "content_type": ctype, "data": base64.b64encode(data).decode()}

    return {
        "title": f"新品发布会{n}",
        "digest": f"我们今天发布了新一代产品（{n}）。",
        "author": "品牌部",
        "content": f'<p>正文第一段，编号{n}。</p><p><img src="image:0"></p><p>结束。</p>',
        "source": "本公司",
        "category": "company",
        "cover": img(f"cover{n}.jpg", JPEG + str(n).encode(), "image/jpeg"),
        "images": [img(f"in{n}.png", PNG + str(n).encode(), "image/png")],
    }


def _outbound(post: Mapping[str, Any]) -> OutboundPost:
    def img(v: Mapping[str, str]) -> Image:
        data = base64.b64decode(v["data"])
        return Image(v["filename"], v["content_type"], data, hashlib.sha256(data).hexdigest())

    return OutboundPost(
        title=post["title"], digest=post["digest"], author=post["author"],
        content=post["content"], source=post["source"], category=post["category"],
        content_sha256=hashlib.sha256(repr(post).encode()).hexdigest(),
        cover=img(post["cover"]), images=tuple(img(i) for i in post["images"]),
    )  # fmt: skip


class _MemoryContext:
    """A PublishContext with checkpoints in a dict: the connector and the platform, no gateway."""

    def __init__(self, job_id: str, account: AccountRef, creds: Mapping[str, str]) -> None:
        self.job_id, self.account, self._creds = job_id, account, creds
        self.state: dict[str, Any] = {}
        self.tokens: Any = None  # neither webhook nor WordPress uses platform tokens

    async def credentials(self) -> Mapping[str, str]:
        return self._creds

    async def checkpoint(self, **updates: Any) -> None:
        self.state.update(updates)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def run(args: argparse.Namespace) -> dict[str, list[float]]:
    data_dir = Path(tempfile.mkdtemp(prefix="mediagate-bench-"))
    store = EmbeddedValkey(data_dir / "store")
    url = store.start()
    runners: list[web.AppRunner] = []
    try:
        if args.platform == "webhook":
            emu_runner, emu = await _serve(webhook_cms.make_app(secret=HOOK_SECRET))
            creds = {"secret": HOOK_SECRET}
        else:
            emu_runner, emu = await _serve(wordpress.make_app(users={WP_USER: [WP_PASSWORD]}))
            creds = {"username": WP_USER, "app_password": WP_PASSWORD}
        runners.append(emu_runner)
        account = AccountRef("bench-site", args.platform, "bench", {"base_url": emu})
        base = load_settings(environ={})
        settings = dataclasses.replace(
            base,
            connectors=dataclasses.replace(
                base.connectors,
                allow=(args.platform,),
                sections={args.platform: {"base_url": emu, "timeout_s": 10.0}},
            ),
        )
        redis = aredis.Redis.from_url(url)
        principals = PrincipalStore(redis, Keys(settings.store.key_prefix))
        keys = {n: (await principals.create(name=n, role=r, unit=u)).key
                for n, (r, u) in ROLES.items()}  # fmt: skip
        await redis.aclose()
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )  # fmt: skip
        runtime = Runtime(url, master_key=MasterKey.from_bytes(os.urandom(32)), signing_key_pem=pem)
        print("starting the gateway (the screener builds its automata; ~15 s) ...", flush=True)
        gw_runner, gw = await _serve(create_app(settings, runtime))
        runners.append(gw_runner)

        async with aiohttp.ClientSession() as session:

            async def call(method: str, path: str, who: str, body: Any) -> tuple[int, Any]:
                headers = {"Authorization": f"Bearer {keys[who]}"}
                async with session.request(method, gw + path, headers=headers, json=body) as r:
                    return r.status, await r.json(content_type=None)

            status, _ = await call("POST", "/v1/accounts", "unit_head", {
                "id": account.id, "platform": args.platform, "name": "bench 官网",
                "unit": "sub_east", "settings": dict(account.settings)})  # fmt: skip
            assert status == 201
            assert (await call("POST", f"/v1/accounts/{account.id}/approve", "brand_pr", {}))[
                0
            ] == 200
            assert (await call("PUT", f"/admin/vault/{account.id}", "admin", {"fields": creds}))[
                0
            ] == 200

            total = args.posts + args.warmup
            posts = [_post(i) for i in range(2 * total)]
            print(f"pre-issuing approvals for {total} posts ...", flush=True)
            approved: list[tuple[dict[str, Any], list[str]]] = []
            for post in posts[total:]:
                _, screen = await call("POST", "/v1/screen", "editor",
                                       {"post": post, "account": account.id})  # fmt: skip
                tokens = []
                for role in screen["required_roles"]:
                    status, issued = await call("POST", "/v1/approvals", role, {
                        "post": post, "accounts": [account.id], "decision": "approve"})  # fmt: skip
                    assert status == 201, issued
                    tokens.append(issued["token"])
                approved.append((post, tokens))

            connector: Connector
            section = {"base_url": emu, "timeout_s": 10.0}
            if args.platform == "webhook":
                connector = WebhookConnector.from_config(section, session=session)
            else:
                connector = WordPressConnector.from_config(section, session=session)
            direct: list[float] = []
            for i, post in enumerate(posts[:total]):
                outbound = _outbound(post)
                ctx = _MemoryContext(f"bench-direct-{i}", account, creds)
                start = time.perf_counter()
                await connector.publish(outbound, ctx)
                if i >= args.warmup:
                    direct.append(time.perf_counter() - start)

            through: list[float] = []
            gate: list[float] = []
            deliver: list[float] = []
            answer: list[float] = []
            for i, (post, tokens) in enumerate(approved):
                body = {"account": account.id, "post": post, "approvals": tokens}
                wall, start = time.time(), time.perf_counter()
                status, job = await call("POST", "/v1/posts", "editor", body)
                elapsed = time.perf_counter() - start
                if status != 201 or job["state"] != "published":
                    raise SystemExit(f"POST /v1/posts answered {status}: {job}")
                if i >= args.warmup:
                    through.append(elapsed)
                    # created_at: the job recorded (gate done); updated_at: its last transition
                    gate.append(job["created_at"] - wall)
                    deliver.append(job["updated_at"] - job["created_at"])
                    answer.append(elapsed - (job["updated_at"] - wall))
        return {
            "direct": direct,
            "gateway": through,
            "gate": gate,
            "deliver": deliver,
            "answer": answer,
        }
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        store.stop()


def _report(samples: dict[str, list[float]], args: argparse.Namespace) -> None:
    d50, d99 = _pct(samples["direct"], 0.50), _pct(samples["direct"], 0.99)
    g50, g99 = _pct(samples["gateway"], 0.50), _pct(samples["gateway"], 0.99)
    print(f"\n{args.posts} sequential publishes to the {args.platform} emulator on loopback "
          f"(text + 1 in-article image + cover), after {args.warmup} warm-up each")  # fmt: skip
    print(f"{'path':<40} {'p50 ms':>9} {'p99 ms':>9}")
    print(f"{'direct: connector.publish() → emulator':<40} {d50:9.2f} {d99:9.2f}")
    print(f"{'gateway: POST /v1/posts → 201 published':<40} {g50:9.2f} {g99:9.2f}")
    print(f"{'added by the gateway':<40} {g50 - d50:9.2f} {g99 - d99:9.2f}")
    print("where the gateway's time goes (p50 / p99 ms):")
    for name, label in (
        ("gate", "request → job recorded (auth, screen, approvals, audit)"),
        ("deliver", "job recorded → published (worker, checkpoints, audit)"),
        ("answer", "published → answer (the handler's wait for the outcome)"),
    ):
        print(f"  {label:<62} {_pct(samples[name], 0.5):7.2f} {_pct(samples[name], 0.99):7.2f}")
    print(f"ratio gateway/direct at p50: {g50 / d50:.1f}x; at p99: {g99 / d99:.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--platform", choices=("webhook", "wordpress"), default="webhook")
    args = parser.parse_args(argv)
    _report(asyncio.run(run(args)), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
