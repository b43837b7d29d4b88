"""The hub's console pages over HTTP (gateway/console/hub.py): the campaign board, material
for Brand-PR and the publishing calendar, against the real gateway and services."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from tests.console.conftest import Caller, OpenDesk
from tests.console.test_desk import XSS_TITLES, assert_inert
from tests.gateway.conftest import MakeClient
from tests.gateway.gate_support import COVER_BYTES, EAST, WEST, Org, draft, start_org


@pytest.fixture
async def org(make_client: MakeClient, settings: Any, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


def at(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_from_now, UTC).isoformat()


async def campaign(org: Org, title: str = "安全生产月联动宣传") -> str:
    resp = await org.client.post(
        "/v1/campaigns",
        headers=org["brand_pr"].headers,
        json={
            "title": title,
            "brief": "各单位报道安全生产月。",
            "units": ["sub_east", "sub_west"],
            "accounts": [EAST, WEST],
            "due_at": at(3600),
        },
    )
    assert resp.status == 201, await resp.text()
    cid: str = (await resp.json())["id"]
    return cid


def rows(html: str) -> dict[str, str]:
    found = re.findall(r'data-testid="board-row" data-unit="([^"]+)" data-account="[^"]*" '
                       r'data-state="([^"]+)"', html)  # fmt: skip
    return dict(found)


async def test_the_campaign_board_page_shows_each_units_state(
    org: Org, open_desk: OpenDesk
) -> None:
    cid = await campaign(org)
    resp = await org.client.post(
        "/v1/submissions",
        headers=org["editor"].headers,
        json={"account": EAST, "post": draft(), "campaign": cid},
    )
    assert resp.status == 201
    editor = await open_desk(org.client, org["editor"].key)
    _, listing = await editor.get("/console/campaigns")
    assert f'data-id="{cid}"' in listing
    status, html = await editor.get(f"/console/campaigns/{cid}")
    assert status == 200
    assert rows(html) == {"sub_east": "awaiting_approval", "sub_west": "not_started"}
    other = await open_desk(org.client, org["editor_hq"].key)
    status, _ = await other.get(f"/console/campaigns/{cid}")
    assert status == 404  # the strategy department is not in it


@pytest.mark.parametrize("title", XSS_TITLES)
async def test_a_hostile_campaign_title_renders_inert(
    org: Org, open_desk: OpenDesk, title: str
) -> None:
    cid = await campaign(org, title=title)
    desk = await open_desk(org.client, org["brand_pr"].key)
    for path in ("/console/campaigns", f"/console/campaigns/{cid}", "/console/calendar"):
        status, html = await desk.get(path)
        assert status == 200, path
        assert_inert(html)


async def test_a_unit_sends_material_from_the_console(org: Org, open_desk: OpenDesk) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    form = aiohttp.FormData()
    form.add_field("csrf", editor.csrf)
    form.add_field("title", "华东分公司应急演练")
    form.add_field("text", "300余名员工参加。")
    form.add_field("images", COVER_BYTES, filename="现场.png", content_type="image/png")
    resp = await editor.session.post(
        org.client.make_url("/console/materials"),
        data=form,
        headers={"Origin": editor.origin},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    _, html = await editor.get("/console/materials")
    assert "华东分公司应急演练" in html and "1 图" in html
    west = await open_desk(org.client, org["editor_west"].key)
    _, html = await west.get("/console/materials")
    assert "华东分公司应急演练" not in html
    pr = await open_desk(org.client, org["brand_pr"].key)
    _, html = await pr.get("/console/materials")
    assert "华东分公司应急演练" in html
    # an empty one comes back with the reason, nothing kept
    resp = await editor.post("/console/materials", {"title": "空", "text": ""})
    assert resp.status == 422
    resp = await editor.post("/console/materials", {"title": "无令牌", "text": "x"}, csrf=False)
    assert resp.status == 403


async def test_the_calendar_lists_what_goes_out_when(org: Org, open_desk: OpenDesk) -> None:
    later = await org.client.post(
        "/v1/submissions",
        headers=org["editor"].headers,
        json={"account": EAST, "post": draft(title="定时稿件"), "publish_at": at(7200)},
    )
    assert later.status == 201
    now = await org.client.post(
        "/v1/submissions",
        headers=org["editor"].headers,
        json={"account": EAST, "post": draft(title="立即稿件")},
    )
    assert now.status == 201
    await campaign(org)
    editor = await open_desk(org.client, org["editor"].key)
    _, html = await editor.get("/console/calendar")
    assert "定时稿件" in html and "立即稿件" not in html
    kinds = re.findall(r'data-testid="calendar-item" data-kind="([^"]+)"', html)
    assert kinds == ["campaign", "post"]  # the campaign is due first (1 h before the post)
    west = await open_desk(org.client, org["editor_west"].key)
    _, html = await west.get("/console/calendar")
    assert "定时稿件" not in html
