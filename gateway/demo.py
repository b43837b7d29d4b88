"""``run.py demo``: the gateway with a ready-made organisation and local platform emulators.

Everything runs on this machine: the embedded Valkey store in ``--data-dir``, one emulator per
platform on loopback (WeChat, Weibo, WordPress, a signed-webhook CMS), and the gateway pointed at
them. The demo organisation (from ``config/policy.toml``): HQ with its Brand-PR and strategy
departments and two subsidiaries; one filed-and-approved account per platform; one API key per
role, printed once and written to ``<data-dir>/demo-keys.json`` (mode 0600) for scripts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from aiohttp import web

from connectors.emulators import dingtalk_robot, wecom_robot
from connectors.emulators import webhook_cms as webhook_emulator
from connectors.emulators import wechat as wechat_emulator
from connectors.emulators import weibo as weibo_emulator
from connectors.emulators import wordpress as wordpress_emulator
from gateway.accounts import AccountRegistry
from gateway.app import create_app
from gateway.audit import Actor, AuditLog
from gateway.hub.campaigns import Campaign, new_campaign_id, save_campaign
from gateway.keys import Keys
from gateway.principals import PrincipalStore
from gateway.proxy.clients import ProxyClientStore
from gateway.runtime import resolve_runtime, store_url
from gateway.server import ServeHooks, base_url, serve
from gateway.settings import (
    NotifyChannel,
    NotifySettings,
    NotifySubscription,
    SecretRef,
    Settings,
)
from gateway.vault import Vault

DEMO_ACTOR = Actor(id="demo", name="run.py demo", role="admin", unit="hq")

# Credentials the emulators accept; stored in the vault like real ones (never printed).
WECHAT_APP = ("wx-demo-app", "demo-wechat-secret-4f1c")
WEIBO_TOKEN = "demo-weibo-token-8d2e"
WP_USER = ("brand-editor", "demo wp app pass word")
WEBHOOK_SECRET = "demo-webhook-secret-71aa"
# The desk's notification robots (emulated); their keys reach the gateway as secret references.
WECOM_ROBOT_KEY = "demo-wecom-robot-key-3b9d"
DINGTALK_ROBOT = ("demo-dingtalk-token-5e0a", "SECdemo-dingtalk-secret-c2f7")
DEMO_NOTIFY_ENV = {
    "MEDIAGATE_DEMO_WECOM_KEY": WECOM_ROBOT_KEY,
    "MEDIAGATE_DEMO_DINGTALK_TOKEN": DINGTALK_ROBOT[0],
    "MEDIAGATE_DEMO_DINGTALK_SECRET": DINGTALK_ROBOT[1],
}

ROLE_KEYS: tuple[tuple[str, str, str, str], ...] = (
    # name in demo-keys.json, role, unit, display name
    ("editor", "editor", "sub_east", "华东编辑 小刘"),
    ("editor_west", "editor", "sub_west", "西部编辑 小张"),
    ("editor_hq", "editor", "strategy_dept", "战略部编辑 小王"),
    ("unit_head", "unit_head", "sub_east", "华东分公司负责人 赵总"),
    ("unit_head_west", "unit_head", "sub_west", "西部分公司负责人 钱总"),
    ("dept_head", "unit_head", "strategy_dept", "战略发展部负责人 孙部长"),
    ("brand_pr", "brand_pr", "brand_pr", "品牌公关部 周经理"),
    ("leader", "leader", "hq", "分管领导 吴总"),
    ("admin", "admin", "hq", "系统管理员"),
    ("auditor", "auditor", "hq", "审计 郑工"),
)


async def _start_emulators(host: str) -> tuple[list[web.AppRunner], dict[str, str]]:
    apps = {
        "wechat": wechat_emulator.make_app(
            app_id_secrets={WECHAT_APP[0]: WECHAT_APP[1]}, publish_delay_s=2.0
        ),
        "weibo": weibo_emulator.make_app(
            tokens={WEIBO_TOKEN: "5550001"}, safe_domains=("demo.mediagate.local",)
        ),
        "wordpress": wordpress_emulator.make_app(users={WP_USER[0]: [WP_USER[1]]}),
        "webhook": webhook_emulator.make_app(secret=WEBHOOK_SECRET),
        "wecom_robot": wecom_robot.make_app(keys=(WECOM_ROBOT_KEY,), per_minute=200),
        "dingtalk_robot": dingtalk_robot.make_app(
            tokens={DINGTALK_ROBOT[0]: DINGTALK_ROBOT[1]}, per_minute=200
        ),
    }
    runners, urls = [], {}
    for name, app in apps.items():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        runners.append(runner)
        urls[name] = f"http://{host}:{port}"
    return runners, urls


def _demo_settings(settings: Settings, urls: Mapping[str, str]) -> Settings:
    sections: dict[str, dict[str, Any]] = {
        k: dict(v) for k, v in settings.connectors.sections.items()
    }
    sections.setdefault("wechat", {})["base_url"] = urls["wechat"]
    sections["wechat"]["poll_interval_s"] = 1.0
    sections["wechat"]["max_poll_interval_s"] = 5.0
    sections.setdefault("weibo", {})["base_url"] = urls["weibo"]
    connectors = dataclasses.replace(settings.connectors, sections=sections)
    return dataclasses.replace(settings, connectors=connectors, notify=_demo_notify(urls))


def _demo_notify(urls: Mapping[str, str]) -> NotifySettings:
    """The desk's notices in the demo: every unit's events to one WeCom group, Brand-PR's (and
    the Art. 8 alerts) to a DingTalk group; both robots are emulators."""
    channels = {
        "wecom_group": NotifyChannel(
            kind="wecom",
            url=urls["wecom_robot"] + "/cgi-bin/webhook/send",
            key=SecretRef(env="MEDIAGATE_DEMO_WECOM_KEY"),
        ),
        "brand_pr_dingtalk": NotifyChannel(
            kind="dingtalk",
            url=urls["dingtalk_robot"] + "/robot/send",
            key=SecretRef(env="MEDIAGATE_DEMO_DINGTALK_TOKEN"),
            secret=SecretRef(env="MEDIAGATE_DEMO_DINGTALK_SECRET"),
        ),
    }
    subscriptions = (
        NotifySubscription("wecom_group"),
        NotifySubscription("brand_pr_dingtalk", roles=("brand_pr",)),
    )
    return NotifySettings(channels=channels, subscriptions=subscriptions, poll_interval_s=0.5)


def _write_emulators(data_dir: Path, urls: Mapping[str, str]) -> None:
    """``demo-emulators.json``: each emulator's base URL, for scripts and the console tests."""
    (data_dir / "demo-emulators.json").write_text(
        json.dumps(dict(urls), indent=2) + "\n", encoding="utf-8"
    )


ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"id": "hq-wechat", "platform": "wechat", "name": "集团官方公众号", "unit": "hq"},
    {"id": "hq-site", "platform": "wordpress", "name": "集团官网", "unit": "hq"},
    {"id": "east-weibo", "platform": "weibo", "name": "华东分公司官方微博", "unit": "sub_east"},
    {"id": "west-cms", "platform": "webhook", "name": "西部分公司网站", "unit": "sub_west"},
)


def _previous_key_ids(keys_file: Path) -> list[str]:
    if not keys_file.exists():
        return []
    try:
        entries = json.loads(keys_file.read_text())
        return [entry["id"] for name, entry in entries.items() if name != "wechat_proxy"]
    except (ValueError, OSError, KeyError, TypeError):
        return []


def _previous_proxy_appid(keys_file: Path) -> str:
    try:
        return str(json.loads(keys_file.read_text())["wechat_proxy"]["appid"])
    except (ValueError, OSError, KeyError, TypeError):
        return ""


async def _demo_proxy_client(
    redis: aredis.Redis, keys: Keys, audit: AuditLog, principal: str, base_url: str, old: str
) -> dict[str, str]:
    """One proxy client for hq-wechat acting for the HQ strategy editor (docs/proxy.md)."""
    clients = ProxyClientStore(redis, keys)
    if old:
        await clients.revoke(old)
    issued = await clients.create(
        name="demo wechatpy script",
        principal=principal,
        accounts=("hq-wechat",),
        source="集团战略发展部",
        category="news",
        created_by="demo",
    )
    await audit.append(
        actor=DEMO_ACTOR,
        action="proxy.client.created",
        target=issued.client.appid,
        details={"proxy_client": issued.client.appid, "principal": principal, "demo": True},
    )
    return {
        "appid": issued.client.appid,
        "secret": issued.secret,
        "account": "hq-wechat",
        "base_url": base_url,
    }


def _write_keys(keys_file: Path, issued: Mapping[str, Any]) -> None:
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(issued, fh, ensure_ascii=False, indent=2)
    os.chmod(keys_file, 0o600)


async def seed(
    redis: aredis.Redis,
    keys: Keys,
    vault: Vault,
    urls: Mapping[str, str],
    keys_file: Path,
    proxy_base_url: str = "",
) -> dict[str, dict[str, str]]:
    """File and approve the demo accounts, store their credentials, issue one key per role and
    (with ``proxy_base_url``) one WeChat proxy client, ``wechat_proxy`` in demo-keys.json."""
    principals = PrincipalStore(redis, keys)
    registry = AccountRegistry(redis, keys)
    audit = AuditLog(redis, keys)
    # Keys of an earlier demo run are revoked, then made anew.
    for key_id in await asyncio.to_thread(_previous_key_ids, keys_file):
        await principals.revoke(key_id)
    old_proxy = await asyncio.to_thread(_previous_proxy_appid, keys_file)
    issued: dict[str, dict[str, str]] = {}
    for name, role, unit, display in ROLE_KEYS:
        key = await principals.create(name=display, role=role, unit=unit)
        issued[name] = {
            "key": key.key,
            "id": key.principal.id,
            "role": role,
            "unit": unit,
            "name": display,
        }
    settings_by_account = {
        "hq-wechat": {},
        "hq-site": {"base_url": urls["wordpress"]},
        "east-weibo": {"link": "https://demo.mediagate.local/news", "rip": "127.0.0.1"},
        "west-cms": {"base_url": urls["webhook"]},
    }
    credentials = {
        "hq-wechat": {"app_id": WECHAT_APP[0], "app_secret": WECHAT_APP[1]},
        "hq-site": {"username": WP_USER[0], "app_password": WP_USER[1]},
        "east-weibo": {"access_token": WEIBO_TOKEN},
        "west-cms": {"secret": WEBHOOK_SECRET},
    }
    for spec in ACCOUNTS:
        existing = await registry.get(spec["id"])
        if existing is None or dict(existing.settings) != settings_by_account[spec["id"]]:
            await audit.append(
                actor=DEMO_ACTOR, action="account.file", target=spec["id"], details={"demo": True}
            )
            await registry.file(
                account_id=spec["id"],
                platform=spec["platform"],
                name=spec["name"],
                unit=spec["unit"],
                operators=[],
                settings=settings_by_account[spec["id"]],
                filed_by="demo",
            )
            await audit.append(
                actor=DEMO_ACTOR,
                action="account.approve",
                target=spec["id"],
                decision="active",
                details={"demo": True},
            )
            await registry.decide(spec["id"], approve=True, by="demo", note="demo filing")
        await audit.append(
            actor=DEMO_ACTOR,
            action="vault.put",
            target=spec["id"],
            details={"fields": sorted(credentials[spec["id"]])},
        )
        await vault.put(spec["id"], credentials[spec["id"]], actor="demo")
    await _seed_campaign(redis, keys, audit, issued["brand_pr"]["id"])
    if proxy_base_url:
        issued["wechat_proxy"] = await _demo_proxy_client(
            redis, keys, audit, issued["editor_hq"]["id"], proxy_base_url, old_proxy
        )
    await asyncio.to_thread(_write_keys, keys_file, issued)
    return issued


async def _seed_campaign(redis: aredis.Redis, keys: Keys, audit: AuditLog, by: str) -> None:
    """One linked campaign for the subsidiaries (docs/hub.md), unless there is one already."""
    if await redis.zcard(keys.campaigns()):
        return
    now = time.time()
    campaign = Campaign(
        id=new_campaign_id(),
        title="安全生产月联动宣传",
        brief="各分公司结合本单位实际，报道安全生产月活动：应急演练、隐患排查、先进事迹。",
        key_messages=("安全第一，预防为主", "人人讲安全，个个会应急"),
        references=("集团关于开展安全生产月活动的通知",),
        units=("sub_east", "sub_west"),
        accounts=("east-weibo", "west-cms"),
        due_at=now + 3 * 86400,
        created_by=by,
        created_at=now,
    )
    await audit.append(
        actor=DEMO_ACTOR, action="campaign.create", target=campaign.id, details={"demo": True}
    )
    await save_campaign(redis, keys, campaign)


def _print_banner(
    base: str, urls: Mapping[str, str], issued: Mapping[str, Any], keys_file: Path
) -> None:
    print("\nmediagate demo is running\n")
    print(f"  gateway      {base}   (GET /healthz, /openapi.json)")
    for name, url in urls.items():
        listing = "/_emulator/messages" if name.endswith("_robot") else "/_emulator/items"
        print(f"  {name:<14} {url}   (emulator; {listing}, /_emulator/faults)")
    print("\nAPI keys (shown once; also in " + str(keys_file) + ", mode 0600):")
    for name, entry in issued.items():
        if name != "wechat_proxy":
            print(f"  {name:<15} {entry['role']:<10} {entry['unit']:<14} {entry['key']}")
    proxy = issued.get("wechat_proxy")
    if proxy:
        print(
            f"\nWeChat proxy client for {proxy['account']} (docs/proxy.md): appid {proxy['appid']} "
            f"secret {proxy['secret']}\n  API host {proxy['base_url']}"
        )
    print("\nAccounts: " + ", ".join(f"{a['id']} ({a['platform']}, {a['unit']})" for a in ACCOUNTS))
    print("\nTry it (see docs/demo.md for the whole walk-through):")
    print(
        f"  curl -s -H 'Authorization: Bearer {issued['editor']['key']}' "
        f"-H 'Content-Type: application/json' {base}/v1/screen \\\n"
        '    -d \'{"post": {"title": "华东分公司举办开放日", "content": '
        '"<p>本周六华东分公司举办客户开放日。</p>", "source": "华东分公司综合部", '
        '"category": "news"}}\'\n',
        flush=True,
    )


def run_demo(settings: Settings, sock: socket.socket, hooks: ServeHooks | None = None) -> int:
    """Seed the demo organisation and serve on ``sock`` (bound by the caller) until stopped."""
    hooks = hooks or ServeHooks()
    data_dir = settings.server.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    keys_file = data_dir / "demo-keys.json"

    with sock, store_url(settings) as (url, embedded):
        runtime = resolve_runtime(settings, url, embedded=embedded)
        if runtime.master_key is None:
            print(f"vault unavailable: {runtime.vault_problem}")
            return 1

        async def main() -> None:
            runners, urls = await _start_emulators(settings.server.host)
            demo_settings = _demo_settings(settings, urls)
            redis = aredis.Redis.from_url(url)
            keys = Keys(demo_settings.store.key_prefix)
            assert runtime.master_key is not None
            base = base_url(sock)  # the port bound (with --port 0, the kernel's choice)
            issued = await seed(
                redis,
                keys,
                Vault(redis, keys, runtime.master_key),
                urls,
                keys_file,
                proxy_base_url=f"{base}/proxy/wechat/cgi-bin/",
            )
            await redis.aclose()
            await asyncio.to_thread(_write_emulators, data_dir, urls)
            app = create_app(
                demo_settings,
                dataclasses.replace(runtime, environ={**os.environ, **DEMO_NOTIFY_ENV}),
            )

            def started(base: str) -> None:
                hooks.started(base)
                _print_banner(base, urls, issued, keys_file)

            try:
                await serve(app, sock, hooks=dataclasses.replace(hooks, started=started))
            finally:
                for emulator in runners:
                    await emulator.cleanup()

        asyncio.run(main())
    return 0
