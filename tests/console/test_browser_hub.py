"""The hub's console pages in a real headless Chromium (as tests/console/test_browser.py): an
editor sends material, follows the campaign board to ``published`` with the post's link, and
sees the calendar; Brand-PR sees the material."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from tests.console.browser import Browser, chromium  # noqa: F401 - fixture
from tests.console.test_browser import EAST, Stage, stage  # noqa: F401 - fixture
from tests.gateway.gate_support import draft

MATERIAL = "[data-testid=material-item]"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def at(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_from_now, UTC).isoformat()


async def _board_state(browser: Browser, path: str, wanted: str, timeout_s: float = 90.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        await browser.open(path)
        states = await browser.js(
            "return Array.from(document.querySelectorAll('[data-testid=board-row]'))"
            ".map((e) => e.dataset.state)"
        )
        if states == [wanted]:
            return str(states[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: board {states!r}, not [{wanted!r}]")
        await asyncio.sleep(0.5)


async def test_material_board_and_calendar_in_the_browser(stage: Stage) -> None:  # noqa: F811
    status, campaign = await stage.call(
        "POST",
        "/v1/campaigns",
        "brand_pr",
        {
            "title": "安全生产月联动宣传",
            "brief": "报道安全生产月。",
            "key_messages": ["安全第一"],
            "units": ["sub_east"],
            "accounts": [EAST],
            "due_at": at(3600),
        },
    )
    assert status == 201, campaign
    browser = stage.browser
    await browser.login(stage.callers["editor"].key)

    # material, sent through the form
    await browser.open("/console/materials")
    await browser.type("material-title", "华东分公司应急演练")
    await browser.type("material-text", "300余名员工参加。")
    await browser.follow("material-send")
    assert await browser.path() == "/console/materials"
    assert any(
        "华东分公司应急演练" in t for t in await browser.texts("[data-testid=material-item]")
    )

    # the board: not started, then published with the link once the unit head approved
    path = f"/console/campaigns/{campaign['id']}"
    await browser.open("/console/campaigns")
    await browser.follow_css(f'[data-testid=campaign-item][data-id="{campaign["id"]}"] a')
    assert await browser.path() == path
    assert "安全生产月联动宣传" in await browser.text("campaign-title")
    await _board_state(browser, path, "not_started")
    status, sub = await stage.call(
        "POST",
        "/v1/submissions",
        "editor",
        {"account": EAST, "post": draft(), "campaign": campaign["id"]},
    )
    assert status == 201, sub
    await _board_state(browser, path, "awaiting_approval")
    status, done = await stage.call(
        "POST", f"/v1/submissions/{sub['id']}/decisions", "unit_head", {"decision": "approve"}
    )
    assert status == 200, done
    await _board_state(browser, path, "published")
    link = await browser.find("board-url")
    assert str(await browser.call(link.get_attribute, "href")).startswith("http")

    # the calendar: a scheduled post
    status, later = await stage.call(
        "POST",
        "/v1/submissions",
        "editor",
        {"account": EAST, "post": draft(title="下周定时稿件"), "publish_at": at(7200)},
    )
    assert status == 201, later
    await browser.open("/console/calendar")
    items = await browser.texts("[data-testid=calendar-item]")
    assert any("下周定时稿件" in t for t in items)
    assert any("安全生产月联动宣传" in t for t in items)

    # Brand-PR reads every unit's material
    await browser.logout()
    await browser.login(stage.callers["brand_pr"].key)
    await browser.open("/console/materials")
    assert any(
        "华东分公司应急演练" in t for t in await browser.texts("[data-testid=material-item]")
    )
