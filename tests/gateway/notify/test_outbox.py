"""Notifications through the running gateway: every desk event reaches its channels from the
outbox, failures are retried then dead-lettered, and an unreachable channel delays nothing."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from connectors.emulators import dingtalk_robot, wecom_robot
from gateway.app import Runtime
from gateway.appkeys import NOTIFY
from gateway.desk.model import JobRef
from gateway.desk.publishing import RELEASING
from gateway.notify.notice import Notice, Recipient
from gateway.notify.outbox import ALERT_CHANNEL, Outbox
from gateway.settings import (
    NotifyChannel,
    NotifySettings,
    NotifySubscription,
    SecretRef,
    Settings,
)
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.desk.desk_support import Desk
from tests.gateway.gate_support import EAST, SECRET, draft, start_org
from tests.gateway.notify.notify_support import (
    DING_SECRET,
    DING_TOKEN,
    ENVIRON,
    WECOM_KEY,
    Hook,
    Mailbox,
    eventually,
    hanging_app,
    smtp_server,
)


@dataclasses.dataclass
class Receivers:
    wecom: str
    dingtalk: str
    smtp_port: int
    hook: Hook
    hook_url: str
    mailbox: Mailbox

    async def messages(self, base: str) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as s, s.get(f"{base}/_emulator/messages") as resp:
            items: list[dict[str, Any]] = (await resp.json())["items"]
            return items


@pytest.fixture
async def receivers(aiohttp_server: Any) -> Any:
    mailbox, hook = Mailbox(), Hook()
    wecom = await aiohttp_server(wecom_robot.make_app(keys=(WECOM_KEY,), per_minute=100))
    ding = await aiohttp_server(dingtalk_robot.make_app(tokens={DING_TOKEN: DING_SECRET}))
    hook_server = await aiohttp_server(hook.app())
    smtp, port = await smtp_server(mailbox)
    yield Receivers(
        str(wecom.make_url("")).rstrip("/"),
        str(ding.make_url("")).rstrip("/"),
        port,
        hook,
        str(hook_server.make_url("/hook")),
        mailbox,
    )
    smtp.close()
    await smtp.wait_closed()


def notify_settings(
    settings: Settings, r: Receivers, editor_id: str, **extra_channels: NotifyChannel
) -> Settings:
    channels = {
        "east_wecom": NotifyChannel(
            kind="wecom",
            url=f"{r.wecom}/cgi-bin/webhook/send",
            key=SecretRef(env="T_WECOM_KEY"),
        ),
        "pr_dingtalk": NotifyChannel(
            kind="dingtalk",
            url=f"{r.dingtalk}/robot/send",
            key=SecretRef(env="T_DING_TOKEN"),
            secret=SecretRef(env="T_DING_SECRET"),
        ),
        "mail": NotifyChannel(
            kind="email",
            host="127.0.0.1",
            port=r.smtp_port,
            starttls=False,
            sender="gateway@mediagate.test",
            to=("editor@example.test",),
        ),
        **extra_channels,
    }
    subs = (
        NotifySubscription(
            "east_wecom", events=("submitted",), roles=("unit_head",), units=("sub_east",)
        ),
        NotifySubscription(
            "east_wecom",
            events=("decided", "published", "failed", "unconfirmed"),
            roles=("editor",),
            units=("sub_east",),
        ),
        NotifySubscription("pr_dingtalk", roles=("brand_pr",)),
        NotifySubscription("mail", people=(editor_id,)),
        *(NotifySubscription(name) for name in extra_channels),
    )
    notify = NotifySettings(
        channels=channels,
        subscriptions=subs,
        poll_interval_s=0.2,
        retry_base_s=0.2,
        max_attempts=3,
        alert_webhook_secret=SecretRef(env="T_HOOK_SECRET"),
    )
    policy = dataclasses.replace(settings.policy, alert_webhook=r.hook_url)
    return dataclasses.replace(settings, notify=notify, policy=policy)


async def start(
    make_client: MakeClient,
    settings: Settings,
    runtime: Runtime,
    callers: dict[str, Caller],
    r: Receivers,
    **extra: NotifyChannel,
) -> Desk:
    ns = notify_settings(settings, r, callers["editor"].id, **extra)
    rt = dataclasses.replace(runtime, environ=ENVIRON)

    async def make(settings_: Settings | None = None, runtime_: Runtime | None = None) -> Any:
        return await make_client(settings_ or ns, rt)

    return Desk(await start_org(make, ns, callers))


async def test_every_desk_event_reaches_its_channels(
    make_client: MakeClient,
    settings: Settings,
    runtime: Runtime,
    callers: dict[str, Caller],
    receivers: Receivers,
) -> None:
    r = receivers
    desk = await start(make_client, settings, runtime, callers, r)
    sub = await desk.submit("editor", draft(), EAST)

    async def wecom_count(n: int) -> list[dict[str, Any]] | None:
        items = await r.messages(r.wecom)
        return items if len(items) >= n else None

    first = await eventually(lambda: wecom_count(1))
    assert first and first[0]["content"].startswith("### 待审核：华东分公司动态")
    done = await desk.approve("unit_head", sub["id"])
    decided = await eventually(lambda: wecom_count(2))
    assert decided and "已通过" in decided[1]["content"]
    assert await eventually(lambda: _mails(r, 1))
    await desk.job_published(done["jobs"][0]["id"])
    assert (await desk.get("editor", sub["id"]))["state"] == "published"
    published = await eventually(lambda: wecom_count(3))
    assert published and "已发布" in published[2]["content"]
    ding = await eventually(lambda: _ding(r, 1))
    assert ding and ding[0]["title"].startswith("已发布")  # Brand-PR hears of the outcome
    mails = await eventually(lambda: _mails(r, 2))
    assert mails and [m["X-Mediagate-Event"] for m in mails] == ["decided", "published"]
    # rejected: the reason goes to the editor
    other = await desk.submit("editor", draft(title="第二篇"), EAST)
    await desk.reject("unit_head", other["id"], "数据来源不明")
    rejected = await eventually(lambda: wecom_count(5))
    assert rejected and "数据来源不明" in rejected[4]["content"]
    outbox: Outbox = desk.client.app[NOTIFY]
    assert await eventually(lambda: _drained(outbox))


async def test_blocked_content_raises_the_art8_alert(
    make_client: MakeClient,
    settings: Settings,
    runtime: Runtime,
    callers: dict[str, Caller],
    receivers: Receivers,
) -> None:
    r = receivers
    desk = await start(make_client, settings, runtime, callers, r)
    resp = await desk.submit_raw("editor", {"account": EAST, "post": draft(SECRET)})
    assert resp.status == 422
    resp = await desk.publish("editor", EAST, draft(SECRET + "再试一次"), [])
    assert resp.status == 422

    async def hooks() -> list[dict[str, Any]] | None:
        return r.hook.received if len(r.hook.received) >= 2 else None

    received = await eventually(hooks)
    assert received and {h["event"] for h in received} == {"alert"}
    assert received[0]["data"]["kind"] == "blocked_attempt"
    assert "state_secret" in received[0]["data"]["categories"]
    assert r.hook.bad_signatures == 0
    ding = await eventually(lambda: _ding(r, 2))
    assert ding and ding[0]["title"].startswith("拦截告警")


async def test_an_unreachable_notifier_delays_nothing_and_is_retried_then_dead_lettered(
    make_client: MakeClient,
    settings: Settings,
    runtime: Runtime,
    callers: dict[str, Caller],
    receivers: Receivers,
    aiohttp_server: Any,
) -> None:
    r = receivers
    hanging = await aiohttp_server(hanging_app())
    extra = {
        "hangs": NotifyChannel(kind="webhook", url=str(hanging.make_url("/hook")), timeout_s=2.0),
        "closed": NotifyChannel(
            kind="wecom",
            url="http://127.0.0.1:9/cgi-bin/webhook/send",
            key=SecretRef(env="T_WECOM_KEY"),
        ),
    }
    desk = await start(make_client, settings, runtime, callers, r, **extra)
    started = time.monotonic()
    sub = await desk.submit("editor", draft(), EAST)
    done = await desk.approve("unit_head", sub["id"])
    elapsed_s = time.monotonic() - started
    assert done["state"] == "publishing"
    assert elapsed_s < 1.5, f"submit + approve took {elapsed_s:.2f}s with a hanging channel"
    # the reachable channel got both messages meanwhile, before the hanging one timed out
    got = await eventually(lambda: _wecom_within(r, 2), timeout_s=1.5)
    assert got, "the WeCom robot waited for the hanging channel"
    assert time.monotonic() - started < 2.0
    outbox: Outbox = desk.client.app[NOTIFY]

    async def dead() -> list[Any] | None:
        found = await outbox.dead()
        return found if {m.channel for m in found} >= {"hangs", "closed"} else None

    given_up = await eventually(dead, timeout_s=20)
    assert given_up
    for msg in given_up:
        assert msg.attempts == 3 and msg.last_error


async def test_an_unknown_channel_secret_turns_the_channel_off_and_says_so(
    make_client: MakeClient,
    settings: Settings,
    runtime: Runtime,
    callers: dict[str, Caller],
    receivers: Receivers,
) -> None:
    ns = notify_settings(settings, receivers, callers["editor"].id)
    client = await make_client(ns, dataclasses.replace(runtime, environ={}))
    resp = await client.get("/healthz")
    info = await resp.json()
    text = str(info)
    assert "east_wecom" in text and "T_WECOM_KEY" in text
    assert WECOM_KEY not in text and DING_SECRET not in text
    outbox: Outbox = client.app[NOTIFY]
    assert ALERT_CHANNEL in outbox.notifiers
    assert "east_wecom" not in outbox.notifiers
    notice = Notice(
        event="submitted",
        title="t",
        text="x",
        recipients=(Recipient(role="unit_head", unit="sub_east"),),
    )
    assert outbox.route(notice) == []


async def _mails(r: Receivers, n: int) -> list[Any] | None:
    return r.mailbox.messages if len(r.mailbox.messages) >= n else None


async def _ding(r: Receivers, n: int) -> list[dict[str, Any]] | None:
    items = await r.messages(r.dingtalk)
    return items if len(items) >= n else None


async def _wecom_within(r: Receivers, n: int) -> list[dict[str, Any]] | None:
    items = await r.messages(r.wecom)
    return items if len(items) >= n else None


async def _drained(outbox: Outbox) -> bool:
    return not await outbox.pending() and not await outbox.dead()


async def test_each_event_arrives_at_every_kind_of_channel(
    make_client: MakeClient,
    settings: Settings,
    runtime: Runtime,
    callers: dict[str, Caller],
    receivers: Receivers,
) -> None:
    """Every event the desk raises, made by the desk itself, at WeCom, DingTalk, SMTP, webhook."""
    r = receivers
    ns = notify_settings(settings, r, callers["editor"].id)
    everything = NotifySettings(
        channels={
            **ns.notify.channels,
            "hook": NotifyChannel(
                kind="webhook", url=r.hook_url, secret=SecretRef(env="T_HOOK_SECRET")
            ),
        },
        subscriptions=tuple(
            NotifySubscription(name) for name in ("east_wecom", "pr_dingtalk", "mail", "hook")
        ),
        poll_interval_s=0.2,
    )
    ns = dataclasses.replace(ns, notify=everything, policy=settings.policy)
    rt = dataclasses.replace(runtime, environ=ENVIRON)

    async def make(settings_: Settings | None = None, runtime_: Runtime | None = None) -> Any:
        return await make_client(settings_ or ns, rt)

    desk = Desk(await start_org(make, ns, callers))
    # submitted, decided, published
    sub = await desk.submit("editor", draft(), EAST)
    done = await desk.approve("unit_head", sub["id"])
    await desk.job_published(done["jobs"][0]["id"])
    assert (await desk.get("editor", sub["id"]))["state"] == "published"
    # failed: the account is frozen between approval and the scheduled time
    when = datetime.fromtimestamp(time.time() + 60, UTC).isoformat()
    later = await desk.submit("editor", draft(title="稍后发布"), EAST, publish_at=when)
    await desk.approve("unit_head", later["id"])
    resp = await desk.client.post(
        "/admin/freeze",
        headers=desk.h("brand_pr"),
        json={"scope": "account", "id": EAST, "reason": "应急"},
    )
    assert resp.status in (200, 201)
    await desk.service.store.update(
        later["id"], lambda s: dataclasses.replace(s, publish_at=time.time() - 1)
    )
    await desk.service.release(later["id"])
    assert (await desk.get("editor", later["id"]))["state"] == "failed"
    resp = await desk.client.post(
        "/admin/unfreeze",
        headers=desk.h("brand_pr"),
        json={"scope": "account", "id": EAST, "reason": "解除"},
    )
    assert resp.status in (200, 201), await resp.text()
    # unconfirmed: the releasing process died while the gate had the account in hand
    third = await desk.submit("editor", draft(title="第三篇"), EAST, publish_at=when)
    await desk.approve("unit_head", third["id"])

    def crashed(s: Any) -> Any:
        s = s.moved("publishing", time.time() - 3600, "released", "", "handed to the gate")
        return dataclasses.replace(s, jobs=(JobRef(EAST, state=RELEASING),))

    await desk.service.store.update(third["id"], crashed)
    assert (await desk.get("editor", third["id"]))["state"] == "unconfirmed"
    # alert: blocked content
    assert (await desk.submit_raw("editor", {"account": EAST, "post": draft(SECRET)})).status == 422

    wanted = {"submitted", "decided", "published", "failed", "unconfirmed", "alert"}

    async def all_arrived() -> bool:
        wecom = {_event_of(m["content"]) for m in await r.messages(r.wecom)}
        ding = {_event_of(m["text"]) for m in await r.messages(r.dingtalk)}
        mail = {m["X-Mediagate-Event"] for m in r.mailbox.messages}
        hook = {h["event"] for h in r.hook.received}
        return all(wanted <= got for got in (wecom, ding, mail, hook))

    assert await eventually(all_arrived, timeout_s=15), (
        await r.messages(r.wecom),
        [m["X-Mediagate-Event"] for m in r.mailbox.messages],
    )


HEADINGS = {
    "待审核": "submitted",
    "已通过": "decided",
    "被退回": "decided",
    "已发布": "published",
    "发布失败": "failed",
    "发布结果待确认": "unconfirmed",
    "拦截告警": "alert",
}


def _event_of(markdown: str) -> str:
    first = markdown.splitlines()[0].removeprefix("### ")
    return next((event for word, event in HEADINGS.items() if first.startswith(word)), first)
