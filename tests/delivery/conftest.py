"""Delivery test rig: the real gateway publishing through the gate to the platform emulators.

Everything is real and on loopback: the emulators are aiohttp servers (``aiohttp_server`` for
in-process tests, a thread of their own for tests that run the gateway as processes), the store
is a real Valkey/Redis, and the gateway is either the app on a loopback server or
``python run.py serve`` subprocesses sharing one store. Every connector section of every config
written here points at 127.0.0.1.

:class:`Api` speaks the gateway's HTTP API the way a newsroom would: file and approve an account,
put its credentials in the vault, ask the right roles for approvals of exactly this post, publish,
and follow the job until it is final.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.emulators import webhook_cms, wechat, weibo, wordpress
from gateway.app import Runtime, create_app
from gateway.appkeys import WORKER
from gateway.keys import Keys
from gateway.principals import PrincipalStore
from gateway.settings import Settings, load_settings
from tests.gateway.conftest import MASTER, SIGNING_PEM, screener  # noqa: F401 - fixture
from tests.served import listening_url

REPO = Path(__file__).resolve().parents[2]
FINAL = frozenset({"published", "failed", "unconfirmed", "needs_reauth", "deleted"})

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64

WX_APPS = {"wx_east_app": "wx-east-secret-1", "wx_west_app": "wx-west-secret-2"}
WEIBO_TOKEN = "weibo-token-for-delivery-tests"
WP_USER, WP_PASSWORD = "editor", "abcd EFGH 1234 ijkl MNOP 5678"
HOOK_SECRET = "webhook-secret-for-delivery"
SAFE_LINK = "https://www.example.com/news/42"

ROLE_CALLERS = {
    "editor": ("editor", "sub_east"),
    "unit_head": ("unit_head", "sub_east"),
    "brand_pr": ("brand_pr", "brand_pr"),
    "brand_pr2": ("brand_pr", "brand_pr"),
    "leader": ("leader", "hq"),
    "admin": ("admin", "hq"),
    "auditor": ("auditor", "hq"),
}


def image(name: str, data: bytes, content_type: str = "image/jpeg") -> dict[str, str]:
    return {
        "filename": name,
        "content_type": content_type,
        "data": base64.b64encode(data).decode(),
    }


def make_post(n: int | str, *, title: str = "新品发布会", images: int = 1) -> dict[str, Any]:
    """A post with text, ``images`` in-article images and a cover; ``n`` makes it unique."""
    body = "".join(f'<p>第{i + 1}张图：<img src="image:{i}"></p>' for i in range(images))
    return {
        "title": f"{title}{n}",
        "digest": f"我们今天发布了新一代产品（{n}）。",
        "author": "品牌部",
        "content": f"<p>正文第一段，编号{n}。</p>{body}<p>结束。</p>",
        "source": "本公司",
        "category": "company",
        "cover": image(f"cover{n}.jpg", JPEG + str(n).encode()),
        "images": [
            image(f"in{n}_{i}.png", PNG + f"{n}-{i}".encode(), "image/png") for i in range(images)
        ],
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the emulators -------------------------------------------------------------------------


def wechat_app(**kw: Any) -> web.Application:
    return wechat.make_app(app_id_secrets=WX_APPS, **{"publish_delay_s": 0.3, **kw})


def weibo_app() -> web.Application:
    return weibo.make_app(tokens={WEIBO_TOKEN: "1404376560"}, safe_domains=("example.com",))


def wordpress_app() -> web.Application:
    return wordpress.make_app(users={WP_USER: [WP_PASSWORD]})


def webhook_app() -> web.Application:
    return webhook_cms.make_app(secret=HOOK_SECRET)


@dataclass
class Emulators:
    wechat: str
    weibo: str
    wordpress: str
    webhook: str


def connector_sections(emus: Emulators, *, wechat_timeout_s: float = 2.0) -> dict[str, Any]:
    """Connector config for tests: every base_url on loopback, WeChat polled quickly."""
    return {
        "wechat": {
            "base_url": emus.wechat,
            "timeout_s": wechat_timeout_s,
            "poll_interval_s": 0.2,
            "max_poll_interval_s": 0.5,
            "submit_settle_s": 1.5,
        },
        "weibo": {"base_url": emus.weibo, "timeout_s": 2.0, "resend_grace_s": 1.0},
        "wordpress": {
            "base_url": emus.wordpress,
            "timeout_s": 2.0,
            "reconcile_grace_s": 1.5,
            "duplicate_watch_s": 1.0,
        },
        "webhook": {"base_url": emus.webhook, "timeout_s": 2.0},
    }


def wechat_fields(app_id: str) -> dict[str, str]:
    return {"app_id": app_id, "app_secret": WX_APPS[app_id]}


def account_setup(emus: Emulators) -> dict[str, tuple[str, dict[str, Any], dict[str, str]]]:
    """account id → (platform, account settings, vault fields)."""
    return {
        "east-wechat": ("wechat", {}, wechat_fields("wx_east_app")),
        "east-weibo": (
            "weibo",
            {"link": SAFE_LINK, "rip": "211.156.0.1", "safe_domains": ["example.com"]},
            {"access_token": WEIBO_TOKEN},
        ),
        "east-wp": (
            "wordpress",
            {"base_url": emus.wordpress},
            {"username": WP_USER, "app_password": WP_PASSWORD},
        ),
        "east-hook": ("webhook", {"base_url": emus.webhook}, {"secret": HOOK_SECRET}),
    }  # fmt: skip


@pytest.fixture
async def emulator_servers(aiohttp_server: Any) -> dict[str, TestServer]:
    return {
        "wechat": await aiohttp_server(wechat_app()),
        "weibo": await aiohttp_server(weibo_app()),
        "wordpress": await aiohttp_server(wordpress_app()),
        "webhook": await aiohttp_server(webhook_app()),
    }


def _url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def emulators(emulator_servers: dict[str, TestServer]) -> Emulators:
    return Emulators(**{name: _url(s) for name, s in emulator_servers.items()})


async def control(
    base_url: str, path: str, body: Mapping[str, Any] | None = None, method: str = ""
) -> Any:
    """Call an emulator control route (``/_emulator/...``) and return its JSON."""
    method = method or ("POST" if body is not None else "GET")
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, base_url + path, json=body) as r,
    ):
        assert r.status < 300, await r.text()
        return await r.json() if r.status != 204 else None


# --- the gateway API, as a newsroom uses it -------------------------------------------------


@dataclass
class Api:
    base_url: str
    keys: dict[str, str]
    session: aiohttp.ClientSession
    published_at: dict[str, float] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def call(
        self, method: str, path: str, who: str, body: Any = None, **kw: Any
    ) -> tuple[int, Any]:
        async with self.session.request(
            method, self.base_url + path, headers=self.h(who), json=body, **kw
        ) as r:
            data = await r.json(content_type=None)
            return r.status, data

    async def file_account(
        self, account: str, platform: str, settings: Mapping[str, Any], fields: Mapping[str, str]
    ) -> None:
        status, data = await self.call(
            "POST",
            "/v1/accounts",
            "unit_head",
            {
                "id": account,
                "platform": platform,
                "name": f"{account} 官方",
                "unit": "sub_east",
                "settings": dict(settings),
            },
        )
        assert status == 201, data
        status, data = await self.call("POST", f"/v1/accounts/{account}/approve", "brand_pr", {})
        assert status == 200, data
        status, data = await self.call(
            "PUT", f"/admin/vault/{account}", "admin", {"fields": dict(fields)}
        )
        assert status == 200, data

    async def approvals(self, account: str, post: Mapping[str, Any]) -> list[str]:
        """Tokens from every role the gate requires for ``post`` on ``account``."""
        status, screen = await self.call(
            "POST", "/v1/screen", "editor", {"post": post, "account": account}
        )
        assert status == 200, screen
        assert screen["decision"] != "block", screen
        tokens = []
        for role in screen["required_roles"]:
            status, issued = await self.call(
                "POST",
                "/v1/approvals",
                role,
                {"post": post, "accounts": [account], "decision": "approve"},
            )
            assert status == 201, issued
            tokens.append(issued["token"])
        return tokens

    async def publish(
        self, account: str, post: Mapping[str, Any], tokens: list[str] | None = None
    ) -> dict[str, Any]:
        if tokens is None:
            tokens = await self.approvals(account, post)
        status, job = await self.call(
            "POST", "/v1/posts", "editor", {"account": account, "post": post, "approvals": tokens}
        )
        assert status in (201, 202), job
        assert (status == 201) == (job["state"] == "published"), (status, job["state"])
        return dict(job)

    async def job(self, job_id: str) -> dict[str, Any]:
        status, job = await self.call("GET", f"/v1/posts/{job_id}", "brand_pr")
        assert status == 200, job
        return dict(job)

    async def wait_final(self, job_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll ``GET /v1/posts/{id}`` until the job is final (bounded in time)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = await self.job(job_id)
            if job["state"] in FINAL:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"{job_id} still {job['state']} after {timeout_s} s: {job}")
            await asyncio.sleep(0.1)

    async def listing(self, state: str) -> list[dict[str, Any]]:
        status, data = await self.call("GET", f"/v1/posts?state={state}", "brand_pr")
        assert status == 200, data
        return list(data["posts"])


async def create_callers(client: aredis.Redis, prefix: str = "mg") -> dict[str, str]:
    store = PrincipalStore(client, Keys(prefix))
    keys = {}
    for name, (role, unit) in ROLE_CALLERS.items():
        issued = await store.create(name=name, role=role, unit=unit)
        keys[name] = issued.key
    return keys


def delivery_settings(
    emus: Emulators, *, workers: int = 4, lease_s: float = 3.0, max_attempts: int = 30, **kw: Any
) -> Settings:
    base = load_settings(environ={})
    return dataclasses.replace(
        base,
        delivery=dataclasses.replace(
            base.delivery,
            workers=workers,
            lease_s=lease_s,
            poll_interval_s=0.1,
            max_attempts=max_attempts,
        ),
        connectors=dataclasses.replace(base.connectors, sections=connector_sections(emus, **kw)),
    )


@dataclass
class Gateway:
    api: Api
    emus: Emulators
    redis: aredis.Redis
    app: web.Application
    server: TestServer


async def start_gateway(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    emus: Emulators,
    session: aiohttp.ClientSession,
    settings: Settings,
    retry_cap_s: float = 0.2,
) -> Gateway:
    """The app on a loopback server with callers and one account per emulator.

    The worker's back-off is capped at ``retry_cap_s``: the connectors ask for seconds between
    attempts, which would make a test with a dozen injected faults take minutes.
    """
    app = create_app(settings, runtime)
    server = await aiohttp_server(app)
    app[WORKER].max_retry_after_s = retry_cap_s
    api = Api(_url(server), await create_callers(redis), session)
    for account, (platform, acc_settings, fields) in account_setup(emus).items():
        await api.file_account(account, platform, acc_settings, fields)
    return Gateway(api, emus, redis, app, server)


@pytest.fixture
def runtime(redis_url: str, screener: Any) -> Runtime:  # noqa: F811 - the shared fixture
    return Runtime(
        redis_url=redis_url, master_key=MASTER, signing_key_pem=SIGNING_PEM, screener=screener
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s


@pytest.fixture
async def gateway(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    emulators: Emulators,
    session: aiohttp.ClientSession,
) -> Gateway:
    return await start_gateway(
        aiohttp_server, redis, runtime, emulators, session, delivery_settings(emulators)
    )


# --- out-of-process pieces ------------------------------------------------------------------


class ThreadedEmulator:
    """An emulator app served from a thread of its own, so it outlives one test's event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""

    def start(self) -> str:
        self._thread.start()

        async def up() -> str:
            self._runner = web.AppRunner(self.app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)  # the kernel's choice of port
            await site.start()
            host, port = self._runner.addresses[0][:2]
            return f"http://{host}:{port}"

        self.url = asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)
        return self.url

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def gateway_toml(path: Path, *, emus: Emulators, lease_s: float = 2.0, workers: int = 4) -> Path:
    """A gateway.toml for a subprocess gateway: loopback only, short leases, any free port."""
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        "port = 0",  # the kernel's choice: the gateway says where it listens
        "processes = 1",  # one process per gateway: the tests kill and count gateways by it
        "[logging]",
        'level = "INFO"',
        "[screening]",
        f'lexicon_dir = "{REPO / "config" / "lexicons"}"',
        'classifier_model_dir = ""',  # off (the default is the shipped model)
        "[delivery]",
        f"workers = {workers}",
        f"lease_s = {lease_s}",
        "poll_interval_s = 0.1",
        "max_attempts = 30",
        "[connectors]",
        'allow = ["wechat", "weibo", "wordpress", "webhook"]',
    ]
    for name, section in connector_sections(emus).items():
        lines.append(f"[connectors.{name}]")
        for key, value in section.items():
            lines.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}")
    text = "\n".join(lines) + "\n"
    assert "127.0.0.1" in text and "weixin.qq.com" not in text and "weibo.com" not in text
    path.write_text(text)
    return path


class GatewayProcess:
    """``python run.py serve`` on a port of its own (the kernel's choice, new at each start:
    ``url`` is known once :meth:`wait_ready` returns), against a shared store."""

    def __init__(self, config: Path, data_dir: Path, redis_url: str) -> None:
        self.config, self.data_dir, self.redis_url = config, data_dir, redis_url
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "gateway.log"
        self._log_from = 0  # where this start's lines begin in the appended log

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
        env.update(
            REDIS_URL=self.redis_url,
            MEDIAGATE_MASTER_KEY=base64.b64encode(MASTER.key).decode(),
            MEDIAGATE_SIGNING_KEY=SIGNING_PEM.decode(),
            PYTHONUNBUFFERED="1",
        )
        with self.log.open("ab") as out:
            self._log_from = out.tell()
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "run.py"), "--config", str(self.config), "serve",
                 "--data-dir", str(self.data_dir)],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        assert self.proc is not None
        self.url = listening_url(self.log, self.proc, timeout_s, offset=self._log_from)
        with urllib.request.urlopen(self.url + "/livez", timeout=10) as r:
            assert r.status == 200  # the port listens only once the gateway is ready

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no clean-up, no lease release, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
