"""Account filing (Art. 7): pending until Brand-PR approves; versioned; scoped to units."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.gateway.conftest import Caller, file_active_account


async def test_filing_is_pending_until_brand_pr_approves(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    resp = await client.post(
        "/v1/accounts",
        headers=callers["unit_head"].headers,
        json={
            "id": "east-wechat",
            "platform": "wechat",
            "name": "华东分公司公众号",
            "unit": "sub_east",
        },
    )
    assert resp.status == 201
    assert (await resp.json())["state"] == "pending"
    listed = await (await client.get("/v1/accounts", headers=callers["editor"].headers)).json()
    assert listed["accounts"] == [
        {
            "id": "east-wechat",
            "platform": "wechat",
            "name": "华东分公司公众号",
            "unit": "sub_east",
            "state": "pending",
            "version": 1,
        }
    ]
    # the unit head cannot approve their own filing
    resp = await client.post(
        "/v1/accounts/east-wechat/approve", headers=callers["unit_head"].headers, json={}
    )
    assert resp.status == 403
    resp = await client.post(
        "/v1/accounts/east-wechat/approve",
        headers=callers["brand_pr"].headers,
        json={"note": "备案通过"},
    )
    assert resp.status == 200
    assert (await resp.json())["state"] == "active"


async def test_refiling_creates_a_new_pending_version(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    await file_active_account(client, callers)
    resp = await client.post(
        "/v1/accounts",
        headers=callers["unit_head"].headers,
        json={"id": "east-weibo", "platform": "weibo", "name": "新名字", "unit": "sub_east"},
    )
    assert resp.status == 201
    body = await resp.json()
    assert (body["state"], body["version"]) == ("pending", 2)
    detail = await (
        await client.get("/v1/accounts/east-weibo", headers=callers["unit_head"].headers)
    ).json()
    assert [v["state"] for v in detail["previous_versions"]] == ["active"]
    assert detail["previous_versions"][0]["name"] == "east-weibo 官方"


async def test_unit_head_cannot_file_for_another_unit(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    resp = await client.post(
        "/v1/accounts",
        headers=callers["unit_head"].headers,
        json={"id": "west-weibo", "platform": "weibo", "name": "x", "unit": "sub_west"},
    )
    assert resp.status == 403
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["reason"] == "wrong_unit"


async def test_editors_see_only_their_units_accounts(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    await file_active_account(client, callers)
    await file_active_account(client, callers, "west-site", unit="sub_west", platform="wordpress")
    east = await (await client.get("/v1/accounts", headers=callers["editor"].headers)).json()
    assert [a["id"] for a in east["accounts"]] == ["east-weibo"]
    resp = await client.get("/v1/accounts/west-site", headers=callers["editor"].headers)
    assert resp.status == 404
    allofthem = await (await client.get("/v1/accounts", headers=callers["brand_pr"].headers)).json()
    assert sorted(a["id"] for a in allofthem["accounts"]) == ["east-weibo", "west-site"]


async def test_settings_that_look_like_credentials_are_refused(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    resp = await client.post(
        "/v1/accounts",
        headers=callers["unit_head"].headers,
        json={
            "id": "east-site",
            "platform": "wordpress",
            "name": "x",
            "unit": "sub_east",
            "settings": {"app_password": "abc"},
        },
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "settings.app_password"
