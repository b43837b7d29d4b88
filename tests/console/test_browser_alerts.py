"""The alert pages in a real headless Chromium (as tests/console/test_browser.py): Brand-PR sees
the open count, opens an edit alert with a hostile title and a diff carrying HTML (nothing runs,
the diff reads as text), acknowledges it with a note, and freezes the account of another."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis.asyncio as aredis

from gateway.keys import Keys
from gateway.settings import Settings
from gateway.watch.alerts import Alert, AlertStore, dedupe_key, new_alert_id
from tests.console.browser import chromium  # noqa: F401 - fixture
from tests.console.test_browser import EAST, Stage, stage  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HOSTILE_TITLE = "<script>alert(1)</script>华东分公司运动会"
DIFF = (
    "--- approved\n+++ platform\n@@ -1 +1 @@\n"
    "-大家热情高涨。\n"
    '+大家热情高涨，<img src=x onerror="alert(2)">奖金翻倍！\n'
)


async def _raise(redis: aredis.Redis, settings: Settings, **fields: Any) -> Alert:
    alert = Alert(
        id=new_alert_id(),
        account=EAST,
        platform="wechat",
        unit="sub_east",
        detected_at=time.time(),
        **fields,
    )
    store = AlertStore(redis, Keys(settings.store.key_prefix))
    raised = await store.raise_once(alert, dedupe_key(alert.kind, EAST, alert.platform_id))
    assert raised is not None
    return raised


async def test_brand_pr_handles_alerts_in_the_browser(
    stage: Stage,  # noqa: F811
    redis: aredis.Redis,
    settings: Settings,
) -> None:
    edit = await _raise(
        redis,
        settings,
        kind="unapproved_edit",
        platform_id="wx-1",
        title=HOSTILE_TITLE,
        diff=DIFF,
        url="javascript:alert(3)",
    )
    publish = await _raise(
        redis,
        settings,
        kind="unapproved_publish",
        platform_id="wx-2",
        title="擅自发布的通知",
        url="https://mp.weixin.qq.com/s/xyz",
    )
    browser = stage.browser
    await browser.login(stage.callers["brand_pr"].key)
    await browser.open("/console/alerts")
    assert (await browser.text("open-alerts")).strip() == "2"
    rows = await browser.texts("[data-testid=alert-row]")
    assert len(rows) == 2 and any(HOSTILE_TITLE in r for r in rows)  # shown as text
    assert await browser.alert_text() is None
    await browser.screenshot("alerts")

    await browser.follow_css(f'[data-testid=alert-row][data-id="{edit.id}"] a')
    assert await browser.path() == f"/console/alerts/{edit.id}"
    assert await browser.alert_text() is None  # neither the title nor the diff ran
    assert await browser.text("alert-title") == HOSTILE_TITLE
    inline = await browser.text("diff-inline")
    assert 'onerror="alert(2)"' in inline and "奖金翻倍" in inline
    added = await browser.texts("[data-testid=diff-inline] ins")
    assert any("奖金翻倍" in t for t in added)
    assert not await browser.find_all("[data-testid=platform-link]")  # javascript: is no link
    await browser.screenshot("alert-edit")
    await browser.type("ack-note", "已联系华东分公司，改回原文")
    await browser.follow("acknowledge")
    assert (await browser.text("alert-state")).strip() == "已确认"
    assert "已联系华东分公司，改回原文" in await browser.text("alert-outcome")
    assert (await browser.text("open-alerts")).strip() == "1"

    await browser.open(f"/console/alerts/{publish.id}")
    link = await browser.find("platform-link")
    assert await browser.call(link.get_attribute, "href") == "https://mp.weixin.qq.com/s/xyz"
    await browser.type("freeze-reason", "擅自发布，冻结核查")
    await browser.follow("freeze-account")
    assert (await browser.text("alert-state")).strip() == "已冻结账号"
    assert "擅自发布，冻结核查" in await browser.text("account-frozen")
    assert not await browser.find_all("[data-testid=open-alerts]")  # none open any more
    status, account = await stage.call("GET", f"/v1/accounts/{EAST}", "brand_pr")
    assert status == 200 and account["frozen"]["scope"] == "account"
