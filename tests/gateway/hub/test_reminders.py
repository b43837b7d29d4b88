"""The weekly reminder (Art. 23): at the configured day and time, units that sent nothing this
week are reminded through the notifiers (a WeCom robot emulator here), once per week."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest

from gateway.api.reports import CST
from gateway.app import Runtime
from gateway.appkeys import HUB_REMINDER
from gateway.hub.reminders import remind_moment
from gateway.settings import HubSettings, NotifySubscription, Settings, SettingsError
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import start_org
from tests.gateway.hub.test_materials import material
from tests.gateway.notify.notify_support import ENVIRON, eventually
from tests.gateway.notify.test_outbox import Receivers, notify_settings, receivers

__all__ = ["receivers"]  # the emulators' fixture
pytestmark = pytest.mark.usefixtures("one_cst_week")  # counts this week's material


async def test_silent_units_are_reminded_once_at_the_configured_time(
    make_client: MakeClient,
    settings: Settings,
    runtime: Runtime,
    callers: dict[str, Caller],
    receivers: Receivers,
) -> None:
    ns = notify_settings(settings, receivers, callers["editor"].id)
    # the reminder's moment: today, a minute ago (China Standard Time)
    start = datetime.now(CST)
    moment = max(start - timedelta(minutes=1), start.replace(hour=0, minute=0))
    west = NotifySubscription(
        "east_wecom", events=("reminder",), roles=("editor",), units=("sub_west",)
    )
    ns = dataclasses.replace(
        ns,
        notify=dataclasses.replace(ns.notify, subscriptions=(*ns.notify.subscriptions, west)),
        hub=HubSettings(
            remind_weekday=moment.isoweekday(), remind_at=f"{moment:%H:%M}", remind_poll_s=3600
        ),
    )
    rt = dataclasses.replace(runtime, environ=ENVIRON)

    async def make(settings_: Settings | None = None, runtime_: Runtime | None = None) -> Any:
        return await make_client(settings_ or ns, rt)

    org = await start_org(make, ns, callers)
    resp = await org.client.post("/v1/materials", headers=org["editor"].headers, json=material())
    assert resp.status == 201, await resp.text()
    reminder = org.client.app[HUB_REMINDER]

    now = datetime.now(CST)
    due = reminder.due_at(now)
    assert (due.isoweekday(), due.hour, due.minute) == (
        moment.isoweekday(),
        moment.hour,
        moment.minute,
    )
    assert due.isocalendar()[:2] == now.isocalendar()[:2]
    assert await reminder.tick(due - timedelta(seconds=1)) == []  # not yet
    reminded = await reminder.tick(now)
    assert set(reminded) == {"sub_west", "strategy_dept"}  # sub_east sent material
    assert await reminder.tick(due + timedelta(hours=2)) == []  # once a week

    async def west_told() -> list[dict[str, Any]] | None:
        items = await receivers.messages(receivers.wecom)
        found = [m for m in items if "西部分公司" in str(m)]
        return found or None

    told = await eventually(west_told)
    assert "华东分公司" not in str(told)


@pytest.mark.parametrize(
    ("hub", "key"),
    [
        (HubSettings(remind_weekday=0), "hub.remind_weekday"),
        (HubSettings(remind_weekday=8), "hub.remind_weekday"),
        (HubSettings(remind_at="25:00"), "hub.remind_at"),
        (HubSettings(remind_at="3pm"), "hub.remind_at"),
        (HubSettings(remind_at="１５:００"), "hub.remind_at"),  # full-width digits
    ],
)
def test_a_bad_reminder_time_is_refused_naming_the_key(hub: HubSettings, key: str) -> None:
    with pytest.raises(SettingsError, match=key):
        remind_moment(hub)
