"""Linked campaigns (Art. 13): Brand-PR opens one, units submit their adaptation linked to it
through their own approvals, the board shows each unit's state, reminders, export."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.appkeys import HUB_REMINDER
from tests.gateway.desk.desk_support import Desk, problem
from tests.gateway.gate_support import EAST, HQ, WEST, draft


def at(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_from_now, UTC).isoformat()


def campaign_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "安全生产月联动宣传",
        "brief": "各单位结合本单位实际，报道安全生产月活动。",
        "key_messages": ["安全第一，预防为主", "人人讲安全"],
        "references": ["集团安全生产月通知（2026年第12号）"],
        "units": ["sub_east", "sub_west"],
        "accounts": [EAST, WEST],
        "due_at": at(3600),
    }
    body.update(changes)
    return body


async def create(desk: Desk, **changes: Any) -> dict[str, Any]:
    resp = await desk.client.post(
        "/v1/campaigns", headers=desk.h("brand_pr"), json=campaign_body(**changes)
    )
    assert resp.status == 201, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def board(desk: Desk, who: str, cid: str) -> dict[tuple[str, str | None], dict[str, Any]]:
    resp = await desk.client.get(f"/v1/campaigns/{cid}", headers=desk.h(who))
    assert resp.status == 200, await resp.text()
    return {(r["unit"], r["account"]): r for r in (await resp.json())["board"]}


async def test_the_board_reflects_each_units_state(desk: Desk) -> None:
    campaign = await create(desk)
    cid = campaign["id"]
    assert cid.startswith("cmp_")
    assert {(r["unit"], r["account"], r["state"]) for r in campaign["board"]} == {
        ("sub_east", EAST, "not_started"),
        ("sub_west", WEST, "not_started"),
    }
    sub = await desk.submit("editor", draft(), EAST, campaign=cid)
    rows = await board(desk, "brand_pr", cid)
    assert rows[("sub_east", EAST)]["state"] == "awaiting_approval"
    assert rows[("sub_east", EAST)]["submission"] == sub["id"]
    assert rows[("sub_west", WEST)]["state"] == "not_started"

    done = await desk.approve("unit_head", sub["id"])
    await desk.job_published(done["jobs"][0]["id"])
    await desk.wait_state("editor", sub["id"], "published")
    rows = await board(desk, "editor", cid)  # a participating unit reads the board too
    assert rows[("sub_east", EAST)]["state"] == "published"
    assert rows[("sub_east", EAST)]["url"].startswith("https://")

    # an adaptation sent by one unit does not count for another
    west = await desk.submit("editor_west", draft(title="西部动态"), WEST, campaign=cid)
    rows = await board(desk, "brand_pr", cid)
    assert rows[("sub_west", WEST)]["submission"] == west["id"]
    # a withdrawn adaptation leaves the unit not started
    assert (await desk.withdraw("editor_west", west["id"])).status == 200
    rows = await board(desk, "brand_pr", cid)
    assert rows[("sub_west", WEST)]["state"] == "not_started"


async def test_past_the_due_time_what_is_not_published_is_overdue(desk: Desk) -> None:
    campaign = await create(desk, due_at=at(2))
    await desk.submit("editor", draft(), EAST, campaign=campaign["id"])
    rows = {(r["unit"], r["account"]): r for r in campaign["board"]}
    assert rows[("sub_west", WEST)]["state"] == "not_started"
    deadline = time.time() + 10
    while time.time() < deadline:
        rows = await board(desk, "brand_pr", campaign["id"])
        if rows[("sub_west", WEST)]["state"] == "overdue":
            break
        await asyncio.sleep(0.3)
    assert rows[("sub_west", WEST)]["state"] == "overdue"
    assert rows[("sub_east", EAST)]["state"] == "overdue"  # awaiting approval, but too late


async def test_a_route_up_campaign_on_the_hq_account(desk: Desk) -> None:
    campaign = await create(desk, accounts=[HQ], units=["sub_east", "strategy_dept"])
    keys = {(r["unit"], r["account"]) for r in campaign["board"]}
    assert keys == {("sub_east", HQ), ("strategy_dept", HQ)}
    sub = await desk.submit("editor", draft(), HQ, campaign=campaign["id"])
    rows = await board(desk, "brand_pr", campaign["id"])
    assert rows[("sub_east", HQ)]["submission"] == sub["id"]
    assert rows[("strategy_dept", HQ)]["state"] == "not_started"


async def test_who_may_create_and_read(desk: Desk) -> None:
    campaign = await create(desk, units=["sub_east"], accounts=[EAST])
    for who in ("editor", "unit_head", "leader"):
        resp = await desk.client.post("/v1/campaigns", headers=desk.h(who), json=campaign_body())
        await problem(resp, 403)
    hidden = await desk.client.get(f"/v1/campaigns/{campaign['id']}", headers=desk.h("editor_west"))
    await problem(hidden, 404)
    resp = await desk.client.get("/v1/campaigns", headers=desk.h("editor_west"))
    assert (await resp.json())["items"] == []
    resp = await desk.client.get("/v1/campaigns", headers=desk.h("editor"))
    assert [c["id"] for c in (await resp.json())["items"]] == [campaign["id"]]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"brief": None}, "brief"),
        ({"units": []}, "units"),
        ({"units": ["sub_north"]}, "units[0]"),
        ({"accounts": ["nope"]}, "accounts[0]"),
        ({"units": ["sub_east"], "accounts": [WEST]}, "accounts[0]"),  # no unit reaches it
        ({"due_at": "明天"}, "due_at"),
        ({"due_at": "2030-01-01T08:00:00"}, "due_at"),  # no offset
        ({"due_at": "2020-01-01T08:00:00+08:00"}, "due_at"),  # past
        ({"key_messages": "一条"}, "key_messages"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_campaigns_are_refused_naming_the_field(
    desk: Desk, changes: dict[str, Any], field: str
) -> None:
    body = campaign_body(**changes)
    if changes.get("brief", "") is None:
        del body["brief"]
    resp = await desk.client.post("/v1/campaigns", headers=desk.h("brand_pr"), json=body)
    data = await problem(resp, 422)
    assert field in str(data), data


async def test_the_board_exports_as_csv(desk: Desk) -> None:
    campaign = await create(desk)
    await desk.submit("editor", draft(), EAST, campaign=campaign["id"])
    resp = await desk.client.get(
        f"/v1/campaigns/{campaign['id']}", params={"format": "csv"}, headers=desk.h("auditor")
    )
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert {(r["unit"], r["state"]) for r in rows} == {
        ("sub_east", "awaiting_approval"),
        ("sub_west", "not_started"),
    }
    assert all(r["title"] == "安全生产月联动宣传" for r in rows)


async def test_units_not_started_are_reminded_before_the_due_time(desk: Desk) -> None:
    campaign = await create(desk, due_at=at(3 * 3600))
    await desk.submit("editor", draft(), EAST, campaign=campaign["id"])
    reminder = desk.client.app[HUB_REMINDER]
    early = campaign["due_at"] - 2 * 86400
    assert await reminder.campaigns(now=early) == []  # too early
    told = await reminder.campaigns(now=time.time())
    assert told == [(campaign["id"], "sub_west")]  # sub_east has started
    assert await reminder.campaigns(now=time.time()) == []  # once
