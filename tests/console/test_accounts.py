"""Accounts page: filing state and freezes; freeze / unfreeze by Brand-PR, audited."""

from __future__ import annotations

import re
from typing import Any

import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from gateway.appkeys import SERVICES
from gateway.keys import Keys
from tests.console.conftest import Caller, OpenDesk
from tests.gateway.conftest import file_active_account


async def test_accounts_show_state_and_only_the_callers_units(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    await file_active_account(client, callers, "east-wechat", "sub_east", platform="wechat")
    await file_active_account(client, callers, "west-wechat", "sub_west", platform="wechat")
    resp = await client.post(
        "/v1/accounts",
        headers=callers["unit_head"].headers,
        json={"id": "east-weibo", "platform": "weibo", "name": "华东微博", "unit": "sub_east"},
    )
    assert resp.status == 201, await resp.text()
    desk = await open_desk(client, callers["editor"].key)
    status, html = await desk.get("/console/accounts")
    assert status == 200
    ids = re.findall(r'data-testid="account-row" data-id="([^"]+)"', html)
    assert sorted(ids) == ["east-wechat", "east-weibo"]
    states = re.findall(r'data-testid="account-state">([^<]+)<', html)
    assert sorted(states) == ["待备案审批", "正常"]
    assert 'data-testid="freeze"' not in html  # an editor cannot freeze


async def test_brand_pr_freezes_and_unfreezes_an_account(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    await file_active_account(client, callers, "east-wechat", "sub_east", platform="wechat")
    desk = await open_desk(client, callers["brand_pr"].key)
    _, html = await desk.get("/console/accounts")
    assert 'data-testid="freeze"' in html
    resp = await desk.post(
        "/console/accounts/freeze", {"scope": "account", "id": "east-wechat", "reason": "舆情处置"}
    )
    assert resp.status == 303, await resp.text()
    assert await redis.hexists(Keys().freezes(), "account:east-wechat")
    _, html = await desk.get("/console/accounts")
    assert 'data-testid="account-frozen"' in html and "舆情处置" in html
    resp = await desk.post(
        "/console/accounts/unfreeze", {"scope": "account", "id": "east-wechat", "reason": "已处置"}
    )
    assert resp.status == 303
    assert not await redis.hexists(Keys().freezes(), "account:east-wechat")
    actions = [
        (r["action"], r["target"], r["actor"]["id"])
        async for _, r in client.app[SERVICES].audit.records()
        if r["action"] in ("freeze", "unfreeze")
    ]
    who = callers["brand_pr"].id
    assert actions == [
        ("freeze", "account:east-wechat", who),
        ("unfreeze", "account:east-wechat", who),
    ]


async def test_freeze_needs_a_reason_and_a_known_target(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    desk = await open_desk(client, callers["brand_pr"].key)
    for form in (
        {"scope": "account", "id": "nope", "reason": "x"},
        {"scope": "unit", "id": "nope", "reason": "x"},
        {"scope": "all", "reason": ""},
        {"scope": "galaxy", "reason": "x"},
    ):
        resp = await desk.post("/console/accounts/freeze", form)
        assert resp.status == 422, form
    assert not await redis.hlen(Keys().freezes())


async def test_a_unit_freeze_shows_on_its_accounts(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    await file_active_account(client, callers, "east-wechat", "sub_east", platform="wechat")
    desk = await open_desk(client, callers["brand_pr"].key)
    resp = await desk.post(
        "/console/accounts/freeze", {"scope": "unit", "id": "sub_east", "reason": "应急"}
    )
    assert resp.status == 303
    editor = await open_desk(client, callers["editor"].key)
    _, html = await editor.get("/console/accounts")
    assert 'data-testid="account-frozen"' in html
