"""Latency of the review desk: ``POST /v1/submissions`` and the approving decision, with and
without notification channels, one of them hanging.

Starts the embedded Valkey in a temporary directory and the real app on 127.0.0.1 with no
delivery worker (the approved submission is handed to the gate, which records the job; no
connector is called). Each round: the editor of ``sub_east`` submits a distinct news post for a
WeChat account of ``sub_east`` (it needs the subsidiary head's approval), then the head approves
it on the desk: the desk signs the token, the set is complete, the gate verifies it, audits and
records the job. Two configurations: no notification channel; and a WeCom robot emulator plus a
signed webhook that accepts the connection and never answers (timeout 5 s), both subscribed to
every event. The figures show that notifying adds one store write to each call, never a wait for
a channel.

Run: ``.venv/bin/python bench/desk.py [--rounds 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import redis.asyncio as aredis  # noqa: E402
from aiohttp import web  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from connectors.emulators import wecom_robot  # noqa: E402
from gateway.app import Runtime, create_app  # noqa: E402
from gateway.embedded import EmbeddedValkey  # noqa: E402
from gateway.keys import Keys  # noqa: E402
from gateway.principals import PrincipalStore  # noqa: E402
from gateway.settings import (  # noqa: E402
    NotifyChannel,
    NotifySettings,
    NotifySubscription,
    SecretRef,
    Settings,
    load_settings,
)
from gateway.vault import MasterKey  # noqa: E402

ACCOUNT = "bench-east-wechat"
COVER = (
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGM4"
    "ISeHFTEMLQkAkL9BAbKfPiIAAAAASUVORK5CYII="
)


def _post(i: int) -> dict[str, Any]:
    return {
        "title": f"华东分公司举办员工技能大赛（第{i}期）",
        "digest": "技能大赛圆满落幕",
        "author": "华东分公司宣传组",
        "content": f"<p>第{i}期：华东分公司近日举办年度员工技能大赛，一百二十名选手参赛。</p>",
        "source": "华东分公司综合办公室",
        "category": "news",
        "cover": {"filename": "c.png", "content_type": "image/png", "data": COVER},
    }


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def _hanging() -> web.Application:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hang)
    return app


def _settings(notify: NotifySettings | None) -> Settings:
    base = load_settings(environ={})
    return dataclasses.replace(
        base,
        delivery=dataclasses.replace(base.delivery, workers=0),
        connectors=dataclasses.replace(
            base.connectors,
            allow=("wechat",),
            sections={"wechat": {"base_url": "http://127.0.0.1:9"}},
        ),
        notify=notify or NotifySettings(),
    )


async def _run(rounds: int, with_channels: bool) -> dict[str, list[float]]:
    data_dir = Path(tempfile.mkdtemp(prefix="mediagate-bench-desk-"))
    store = EmbeddedValkey(data_dir / "store")
    url = store.start()
    helpers: list[web.AppRunner] = []
    try:
        notify = None
        if with_channels:
            robot, robot_url = await _serve(wecom_robot.make_app(keys=("k",), per_minute=10**6))
            hang, hang_url = await _serve(_hanging())
            helpers += [robot, hang]
            notify = NotifySettings(
                channels={
                    "robot": NotifyChannel(
                        kind="wecom",
                        url=robot_url + "/cgi-bin/webhook/send",
                        key=SecretRef(env="K"),
                    ),
                    "hangs": NotifyChannel(kind="webhook", url=hang_url + "/hook", timeout_s=5.0),
                },
                subscriptions=(NotifySubscription("robot"), NotifySubscription("hangs")),
            )
        settings = _settings(notify)
        redis = aredis.Redis.from_url(url)
        principals = PrincipalStore(redis, Keys(settings.store.key_prefix))
        editor = await principals.create(name="编辑", role="editor", unit="sub_east")
        head = await principals.create(name="华东负责人", role="unit_head", unit="sub_east")
        brand_pr = await principals.create(name="品牌公关", role="brand_pr", unit="brand_pr")
        await redis.aclose()
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        runtime = Runtime(
            url,
            master_key=MasterKey.from_bytes(os.urandom(32)),
            signing_key_pem=pem,
            environ={"K": "k"},
        )
        runner, base = await _serve(create_app(settings, runtime))
        helpers.append(runner)
        times: dict[str, list[float]] = {"submit": [], "approve": []}
        async with aiohttp.ClientSession() as s:
            for key, path, body in (
                (
                    head.key,
                    "/v1/accounts",
                    {"id": ACCOUNT, "platform": "wechat", "name": "公众号", "unit": "sub_east"},
                ),
                (brand_pr.key, f"/v1/accounts/{ACCOUNT}/approve", {}),
            ):
                async with s.post(
                    base + path, json=body, headers={"Authorization": f"Bearer {key}"}
                ) as resp:
                    assert resp.status in (200, 201), await resp.text()
            ed = {"Authorization": f"Bearer {editor.key}"}
            hd = {"Authorization": f"Bearer {head.key}"}
            for i in range(rounds + 10):
                t0 = time.perf_counter()
                async with s.post(
                    base + "/v1/submissions",
                    headers=ed,
                    json={"account": ACCOUNT, "post": _post(i)},
                ) as resp:
                    sub = await resp.json()
                    assert resp.status == 201, sub
                t1 = time.perf_counter()
                async with s.post(
                    base + f"/v1/submissions/{sub['id']}/decisions",
                    headers=hd,
                    json={"decision": "approve"},
                ) as resp:
                    done = await resp.json()
                    assert resp.status == 200 and done["state"] == "publishing", done
                t2 = time.perf_counter()
                if i >= 10:  # warm-up rounds are not counted
                    times["submit"].append(t1 - t0)
                    times["approve"].append(t2 - t1)
        return times
    finally:
        for runner in reversed(helpers):
            await runner.cleanup()
        store.stop()


def _pct_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.rounds} rounds each")
    print(f"{'configuration':<40} {'call':<9} {'p50':>9} {'p99':>9}")
    for with_channels, name in ((False, "no channels"), (True, "WeCom robot + a hanging webhook")):
        times = asyncio.run(_run(args.rounds, with_channels))
        for call, values in times.items():
            p50, p99 = _pct_ms(values, 0.5), _pct_ms(values, 0.99)
            print(f"{name:<40} {call:<9} {p50:>6.1f} ms {p99:>6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
