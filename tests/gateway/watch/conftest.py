"""Bypass-detection rig: the real gateway app, one platform emulator and the real store.

:data:`PLATFORMS` has one row per platform whose connector lists (:class:`connectors.base.
Lister`): how to start its emulator, how a person acts on the platform's own console (outside the
gateway), the account's settings and vault fields, a post valid there and the paths of its listing
calls (for the emulators' fault switches). A platform joins every test here by adding a row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.emulators import webhook_cms, weibo, wordpress
from gateway.app import Runtime, create_app
from gateway.appkeys import NOTIFY, SERVICES, WATCH, WORKER
from gateway.settings import (
    NotifyChannel,
    NotifySettings,
    NotifySubscription,
    Settings,
    WatchSettings,
    load_settings,
)
from gateway.watch.alerts import Alert, AlertStore
from gateway.watch.reconciler import PassReport, Reconciler
from tests.delivery.conftest import (  # noqa: F401 - fixtures
    HOOK_SECRET,
    SAFE_LINK,
    WEIBO_TOKEN,
    WP_PASSWORD,
    WP_USER,
    WX_APPS,
    Api,
    control,
    create_callers,
    make_post,
    runtime,
    session,
    wechat_app,
    wechat_fields,
)
from tests.gateway.conftest import screener  # noqa: F401 - fixture

# --- the platforms ----------------------------------------------------------------------------


async def _wechat_console_publish(base_url: str, title: str, content: str) -> str:
    data = await control(
        base_url, "/_emulator/console/publish", {"title": title, "content": content}
    )
    return str(data["platform_id"])


async def _wechat_console_edit(base_url: str, platform_id: str, content: str) -> None:
    await control(
        base_url, "/_emulator/console/edit", {"platform_id": platform_id, "content": content}
    )


async def _wechat_console_delete(base_url: str, platform_id: str) -> None:
    await control(base_url, "/_emulator/console/delete", {"platform_id": platform_id})


@dataclass(frozen=True)
class Platform:
    """One listable platform as the tests drive it."""

    name: str
    emulator: Callable[[], web.Application]
    section: Callable[[str], dict[str, Any]]  # [connectors.<name>] for the emulator's URL
    account_settings: Callable[[str], dict[str, Any]]
    vault_fields: Mapping[str, str]
    console_publish: Callable[[str, str, str], Awaitable[str]]  # (url, title, html) → id
    # (url, id, new html); None when the platform's own console cannot edit a published item
    console_edit: Callable[[str, str, str], Awaitable[None]]
    console_delete: Callable[[str, str], Awaitable[None]]  # (url, id)
    # a post the platform accepts; its content has "编号<n>", a "，", a "。" and "结束" (the
    # Chinese edit table rewrites it), like tests/delivery/conftest.make_post
    post: Callable[[int | str], dict[str, Any]]
    list_path: str  # the listing call (fault switches match the path's end)
    fetch_path: str  # the one-item call
    delete_path: str  # the connector's delete call
    # fault switches that leave the item on the platform while its job is not published yet;
    # at least one of them must leave its job ``unconfirmed``
    settle_faults: tuple[Mapping[str, Any], ...] = ()
    revoke: Callable[[str], Awaitable[None]] | None = None  # invalidate the API tokens
    bad_vault_fields: Mapping[str, str] | None = None  # credentials the platform refuses


async def _wechat_revoke(base_url: str) -> None:
    await control(base_url, "/_emulator/revoke_tokens", {})


PLATFORMS: list[Platform] = [
    Platform(
        name="wechat",
        # plenty of daily quota: a test makes many passes in a few seconds
        emulator=lambda: wechat_app(
            publish_delay_s=0.05,
            daily_quotas={"freepublish/batchget": 100_000, "freepublish/getarticle": 100_000},
        ),
        section=lambda url: {
            "base_url": url,
            "timeout_s": 0.6,
            "poll_interval_s": 0.1,
            "max_poll_interval_s": 0.2,
            "submit_settle_s": 1.0,
        },
        account_settings=lambda url: {},
        vault_fields=wechat_fields("wx_east_app"),
        console_publish=_wechat_console_publish,
        console_edit=_wechat_console_edit,
        console_delete=_wechat_console_delete,
        post=lambda n: make_post(n, images=1),
        list_path="/cgi-bin/freepublish/batchget",
        fetch_path="/cgi-bin/freepublish/getarticle",
        delete_path="/cgi-bin/freepublish/delete",
        settle_faults=(
            {"path": "/cgi-bin/freepublish/get", "hang": True},  # polled in vain → unconfirmed
            {"path": "/cgi-bin/freepublish/submit", "drop_after_apply": True, "times": 1},
        ),
        revoke=_wechat_revoke,
        bad_vault_fields={"app_id": "wx_east_app", "app_secret": "not-the-app-secret"},
    ),
]
assert WX_APPS  # the emulator's accounts (tests/delivery/conftest.py)


# The other platforms speak the same console calls (docs/connectors.md §6).
_console_publish = _wechat_console_publish
_console_edit = _wechat_console_edit
_console_delete = _wechat_console_delete


def _weibo_post(n: int | str) -> dict[str, Any]:
    """Weibo shows ``【title】digest link``: a digest with the lines a reader sees of the other
    platforms' content (``make_post``), so the console edits here read the same everywhere."""
    return {**make_post(n), "digest": f"正文第一段，编号{n}。\n第1张图：\n结束。"}


# A connector's timeout, well under the pass's own limit (0.8 × lease_s = 4 s): a hung listing ends
# with the connector's reason.
_TIMEOUT_S = 2.0


def _applied_lookup_failing(
    create: str, lookup: str, create_method: str = "*", **lookup_query: str
) -> Mapping[str, Any]:
    """The platform applies the create and the answer is lost; the connector's lookup for it
    (told from the reconciler's listing by its query) keeps failing: the job stays in flight,
    its item listed, and ends ``unconfirmed``."""
    return {
        "faults": [
            {"path": create, "method": create_method, "drop_after_apply": True, "times": 1},
            {"path": lookup, "method": "GET", "query": lookup_query, "status": 502},
        ]
    }


PLATFORMS += [
    Platform(
        name="weibo",
        emulator=lambda: weibo.make_app(
            tokens={WEIBO_TOKEN: "1404376560"}, safe_domains=("example.com",), shorten_links=True
        ),
        section=lambda url: {
            "base_url": url,
            "timeout_s": _TIMEOUT_S,
            "resend_grace_s": 1.0,
            "update_mode": "repost",  # Weibo cannot edit: an update replaces the status
        },
        account_settings=lambda url: {
            "link": SAFE_LINK,
            "rip": "211.156.0.1",
            "safe_domains": ["example.com"],
        },
        vault_fields={"access_token": WEIBO_TOKEN},
        console_publish=_console_publish,
        console_edit=_console_edit,
        console_delete=_console_delete,
        post=_weibo_post,
        list_path="/2/statuses/user_timeline.json",
        fetch_path="/2/statuses/show.json",
        delete_path="/2/statuses/destroy.json",
        bad_vault_fields={"access_token": "not-the-app-secret"},
        settle_faults=(
            # the connector looks with count=50 (reconcile_count), the listing with count=100
            _applied_lookup_failing(
                "/2/statuses/share.json", "/2/statuses/user_timeline.json", count="50"
            ),
        ),
    ),
    Platform(
        name="wordpress",
        # a site in Asia/Shanghai: its local times are not GMT
        emulator=lambda: wordpress.make_app(users={WP_USER: [WP_PASSWORD]}, utc_offset_h=8),
        section=lambda url: {
            "base_url": url,
            "timeout_s": _TIMEOUT_S,
            "reconcile_grace_s": 1.5,
            "duplicate_watch_s": 1.0,
        },
        account_settings=lambda url: {"base_url": url},
        vault_fields={"username": WP_USER, "app_password": WP_PASSWORD},
        console_publish=_console_publish,
        console_edit=_console_edit,
        console_delete=_console_delete,
        post=lambda n: make_post(n, images=1),
        list_path="/wp-json/wp/v2/posts",
        fetch_path="/wp-json/wp/v2/posts/*",
        delete_path="/wp-json/wp/v2/posts/*",
        bad_vault_fields={"username": WP_USER, "app_password": "not-the-app-secret"},
        settle_faults=(
            # the connector searches for its marker with status=any, the listing does not
            _applied_lookup_failing(
                "/wp-json/wp/v2/posts", "/wp-json/wp/v2/posts", "POST", status="any"
            ),
        ),
    ),
    Platform(
        name="webhook",
        # an asynchronous CMS (202 pending, published on the first look): the only way a
        # create of this contract is left unconfirmed (a lost answer is repeated safely)
        emulator=lambda: webhook_cms.make_app(secret=HOOK_SECRET, pending_polls=1),
        section=lambda url: {"base_url": url, "timeout_s": _TIMEOUT_S, "poll_interval_s": 0.1},
        account_settings=lambda url: {"base_url": url},
        vault_fields={"secret": HOOK_SECRET},
        console_publish=_console_publish,
        console_edit=_console_edit,
        console_delete=_console_delete,
        post=lambda n: make_post(n, images=1),
        list_path="/posts",
        fetch_path="/posts/*",
        delete_path="/posts/*",
        bad_vault_fields={"secret": "not-the-app-secret"},
        settle_faults=(
            {"path": "/posts/*", "method": "GET", "status": 502},  # pending, never looked at
        ),
    ),
]

ACCOUNT = "east-watched"
INTERVAL_S = 0.3


# --- the gateway ------------------------------------------------------------------------------


def watch_settings(
    platform: Platform,
    url: str,
    receiver_url: str,
    *,
    enabled: bool = True,
    interval_s: float = INTERVAL_S,
    max_attempts: int = 30,
    **watch: Any,
) -> Settings:
    base = load_settings(environ={})
    return dataclasses.replace(
        base,
        server=dataclasses.replace(base.server, public_url="https://gateway.example.com"),
        screening=dataclasses.replace(base.screening, classifier_model_dir=None),
        delivery=dataclasses.replace(
            base.delivery, workers=2, lease_s=3.0, poll_interval_s=0.05, max_attempts=max_attempts
        ),
        connectors=dataclasses.replace(
            base.connectors, allow=(platform.name,), sections={platform.name: platform.section(url)}
        ),
        watch=WatchSettings(
            enabled=enabled,
            interval_s=interval_s,
            platform_interval_s={},
            **{"window_s": 3600.0, "lease_s": 5.0, **watch},
        ),
        notify=NotifySettings(
            channels={"pr_hook": NotifyChannel(kind="webhook", url=receiver_url)},
            subscriptions=(NotifySubscription("pr_hook", events=("alert",), roles=("brand_pr",)),),
            poll_interval_s=0.05,
        ),
    )


@dataclass
class Receiver:
    """A webhook endpoint that keeps what the gateway's notifier sends."""

    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(status=204)

    def alerts(self, alert_id: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["data"].get("alert") == alert_id]


@dataclass
class Watched:
    """A running gateway with one watched account on ``platform``'s emulator."""

    platform: Platform
    api: Api
    emulator_url: str
    emulator: web.Application
    app: web.Application
    redis: aredis.Redis
    receiver: Receiver
    extra_apps: list[web.Application] = field(default_factory=list)

    @property
    def reconciler(self) -> Reconciler:
        return self.app[WATCH]

    @property
    def store(self) -> AlertStore:
        return self.reconciler.alerts

    async def alerts(self, kind: str = "") -> list[Alert]:
        found = await self.store.list(account=ACCOUNT)
        return [a for a in found if not kind or a.kind == kind]

    async def run_pass(self, app: web.Application | None = None) -> PassReport:
        svc = (app or self.app)[SERVICES]
        account = await svc.accounts.require(ACCOUNT)
        return await (app or self.app)[WATCH].run_pass(account)

    async def publish(self, n: int | str) -> dict[str, Any]:
        """A post through the gateway, followed until it is final."""
        job = await self.api.publish(ACCOUNT, self.platform.post(n))
        return await self.api.wait_final(job["id"])

    async def fault(self, **fault: Any) -> None:
        await control(self.emulator_url, "/_emulator/faults", fault)

    async def clear_faults(self) -> None:
        await control(self.emulator_url, "/_emulator/faults", method="DELETE")

    async def audit_records(self, action: str) -> list[dict[str, Any]]:
        records = self.app[SERVICES].audit.records()
        return [r async for _id, r in records if r["action"] == action]

    async def notices_of(self, alert_id: str, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        return await eventually(lambda: self.receiver.alerts(alert_id), timeout_s)


async def eventually(probe: Callable[[], Any], timeout_s: float = 5.0) -> Any:
    """``probe()`` (sync or async) until it is truthy; its value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s")
        await asyncio.sleep(0.05)


StartWatched = Callable[..., Awaitable[Watched]]


@pytest.fixture
async def start_watched(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,  # noqa: F811 - the shared fixture
    session: aiohttp.ClientSession,  # noqa: F811 - the shared fixture
) -> AsyncIterator[StartWatched]:
    async def start(platform: Platform, *, apps: int = 1, **kw: Any) -> Watched:
        emulator = platform.emulator()
        emu_server: TestServer = await aiohttp_server(emulator)
        url = str(emu_server.make_url("")).rstrip("/")
        receiver = Receiver()
        hook = web.Application()
        hook.router.add_post("/hook", receiver.handle)
        hook_server: TestServer = await aiohttp_server(hook)
        settings = watch_settings(platform, url, str(hook_server.make_url("/hook")), **kw)
        gateways = []
        for _ in range(apps):
            app = create_app(settings, runtime)
            server = await aiohttp_server(app)
            app[WORKER].max_retry_after_s = 0.1
            gateways.append((app, server))
        app, server = gateways[0]
        api = Api(str(server.make_url("")).rstrip("/"), await create_callers(redis), session)
        await api.file_account(
            ACCOUNT, platform.name, platform.account_settings(url), platform.vault_fields
        )
        assert app[NOTIFY].route(_probe_notice())  # the alert channel is wired
        return Watched(
            platform, api, url, emulator, app, redis, receiver, [a for a, _ in gateways[1:]]
        )

    yield start


def _probe_notice() -> Any:
    from gateway.notify.notice import Notice, Recipient

    return Notice(event="alert", title="", text="", recipients=(Recipient(role="brand_pr"),))


def platform_ids() -> list[str]:
    return [p.name for p in PLATFORMS]
