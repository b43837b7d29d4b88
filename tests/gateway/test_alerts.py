"""Bypass alerts over the API (/v1/alerts, gateway/watch/actions.py): who sees which, the filters,
acknowledge and freeze with their refusals, the freeze stopping the account for real, and the
audit records they leave. Alerts are seeded with ``AlertStore.raise_once`` on the real store."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.appkeys import SERVICES
from gateway.settings import Settings
from tests.gateway.alert_support import EDIT_DIFF, alert_store, seed
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import EAST, HQ, WEST, Org, draft, problem, start_org

VAULT_SECRET = "ALERTCANARY-7f3a-机密-9c1e"


@pytest.fixture
async def org(make_client: MakeClient, settings: Settings, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


async def _three(org: Org) -> dict[str, str]:
    """One alert on each of three accounts of three units; ``{account: alert id}``."""
    now = time.time()
    east = await seed(org.client, "unapproved_publish", EAST, unit="sub_east", detected_at=now - 30)
    west = await seed(
        org.client,
        "unapproved_edit",
        WEST,
        unit="sub_west",
        diff=EDIT_DIFF,
        job="job_1",
        detected_at=now - 20,
    )
    hq = await seed(org.client, "removed_outside", HQ, unit="hq", detected_at=now - 10)
    return {EAST: east.id, WEST: west.id, HQ: hq.id}


async def _list(org: Org, who: str, **params: str) -> list[dict[str, Any]]:
    resp = await org.client.get("/v1/alerts", params=params, headers=org[who].headers)
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["count"] == len(data["alerts"])
    alerts: list[dict[str, Any]] = data["alerts"]
    return alerts


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("brand_pr", {EAST, WEST, HQ}),
        ("admin", {EAST, WEST, HQ}),
        ("unit_head", {EAST}),  # head of sub_east
        ("unit_head_west", {WEST}),
        ("dept_head", set()),  # strategy department: none of these accounts is its own
    ],
)
async def test_who_sees_which_alerts(org: Org, who: str, sees: set[str]) -> None:
    ids = await _three(org)
    assert {a["account"] for a in await _list(org, who)} == sees
    for account, alert_id in ids.items():
        resp = await org.client.get(f"/v1/alerts/{alert_id}", headers=org[who].headers)
        if account in sees:
            assert resp.status == 200
            assert (await resp.json())["id"] == alert_id
        else:
            await problem(resp, 404)  # outside the caller's units: as if there were none


@pytest.mark.parametrize("who", ["editor", "leader", "auditor"])
async def test_other_roles_may_not_read_alerts(org: Org, who: str) -> None:
    ids = await _three(org)
    await problem(await org.client.get("/v1/alerts", headers=org[who].headers), 403)
    resp = await org.client.get(f"/v1/alerts/{ids[EAST]}", headers=org[who].headers)
    await problem(resp, 403)


async def test_list_filters_newest_first_and_pages(org: Org) -> None:
    ids = await _three(org)
    everything = await _list(org, "brand_pr")
    assert [a["account"] for a in everything] == [HQ, WEST, EAST]  # newest first
    assert [a["id"] for a in await _list(org, "brand_pr", account=WEST)] == [ids[WEST]]
    edits = await _list(org, "brand_pr", kind="unapproved_edit")
    assert [a["id"] for a in edits] == [ids[WEST]]
    assert edits[0]["diff"] == EDIT_DIFF and edits[0]["job"] == "job_1"
    assert [a["account"] for a in await _list(org, "brand_pr", limit="1", offset="1")] == [WEST]

    resp = await org.client.post(
        f"/v1/alerts/{ids[EAST]}/acknowledge",
        headers=org["brand_pr"].headers,
        json={"note": "已核实，为测试账号误发"},
    )
    assert resp.status == 200, await resp.text()
    assert {a["account"] for a in await _list(org, "brand_pr", state="open")} == {WEST, HQ}
    assert [a["id"] for a in await _list(org, "brand_pr", state="acknowledged")] == [ids[EAST]]
    assert await _list(org, "brand_pr", state="frozen") == []

    # since / until bound the time the alert was detected (RFC 3339)
    middle = datetime.fromtimestamp(time.time() - 15, UTC).isoformat()
    assert [a["account"] for a in await _list(org, "brand_pr", since=middle)] == [HQ]
    assert [a["account"] for a in await _list(org, "brand_pr", until=middle)] == [WEST, EAST]
    assert await _list(org, "brand_pr", since=middle, until=middle) == []  # until is exclusive
    # a unit head's filter cannot reach beyond their units
    assert await _list(org, "unit_head", account=WEST) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "closed"}, "state"),
        ({"kind": "unapproved"}, "kind"),
        ({"account": "东部账号"}, "account"),
        ({"account": "<script>"}, "account"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-12-01T00:00:00"}, "until"),  # no offset
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "十"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
async def test_bad_list_queries_name_the_field(
    org: Org, params: dict[str, str], field: str
) -> None:
    resp = await org.client.get("/v1/alerts", params=params, headers=org["brand_pr"].headers)
    body = await problem(resp, 422)
    assert body["errors"][0]["field"] == field


NOTES = [
    "已核实：系统测试时误发，已删除。",
    "  前后有空格的说明  ",
    "含<script>alert(1)</script>的说明",
    "零宽\u200b字符与😀表情",
    "مرحبا 混合 RTL \u202e文字",
    "说" * 2000,
]


@pytest.mark.parametrize("note", NOTES)
async def test_acknowledge_keeps_the_note_and_audits_it(org: Org, note: str) -> None:
    ids = await _three(org)
    resp = await org.client.post(
        f"/v1/alerts/{ids[EAST]}/acknowledge", headers=org["brand_pr"].headers, json={"note": note}
    )
    assert resp.status == 200, await resp.text()
    alert = await resp.json()
    assert (alert["state"], alert["note"]) == ("acknowledged", note.strip())
    assert alert["acted_by"] == org["brand_pr"].id and alert["acted_at"] > 0
    stored = await alert_store(org.client).require(ids[EAST])
    assert stored.state == "acknowledged"
    records = [r for r in await org.audit() if r["action"] == "alert.acknowledged"]
    assert len(records) == 1
    assert records[0]["target"] == ids[EAST] and records[0]["reasons"] == [note.strip()]
    assert records[0]["actor"]["id"] == org["brand_pr"].id
    assert records[0]["details"]["account"] == EAST


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "note"),
        ({"note": ""}, "note"),
        ({"note": "   "}, "note"),
        ({"note": "\u3000\u3000"}, "note"),  # ideographic spaces only
        ({"note": "长" * 2001}, "note"),
        ({"note": 42}, "note"),
        ({"note": ["说明"]}, "note"),
        ({"note": None}, "note"),
    ],
)
async def test_acknowledge_refuses_bad_input_naming_the_field(
    org: Org, body: dict[str, Any], field: str
) -> None:
    ids = await _three(org)
    resp = await org.client.post(
        f"/v1/alerts/{ids[EAST]}/acknowledge", headers=org["brand_pr"].headers, json=body
    )
    data = await problem(resp, 422)
    assert data["errors"][0]["field"] == field
    assert (await alert_store(org.client).require(ids[EAST])).state == "open"


@pytest.mark.parametrize("action", ["acknowledge", "freeze"])
async def test_acting_twice_unknown_and_wrong_role(org: Org, action: str) -> None:
    ids = await _three(org)
    key = "note" if action == "acknowledge" else "reason"
    path = f"/v1/alerts/{ids[EAST]}/{action}"
    for who in ("unit_head", "admin", "editor", "auditor", "leader"):
        resp = await org.client.post(path, headers=org[who].headers, json={key: "处理"})
        await problem(resp, 403)
    resp = await org.client.post(
        "/v1/alerts/alr_0000000000000000/" + action,
        headers=org["brand_pr"].headers,
        json={key: "处理"},
    )
    await problem(resp, 404)
    first = await org.client.post(path, headers=org["brand_pr"].headers, json={key: "处理"})
    assert first.status in (200, 201), await first.text()
    again = await org.client.post(path, headers=org["brand_pr2"].headers, json={key: "再处理"})
    body = await problem(again, 409)
    assert body["reason"] == "not_open"
    # the other action on a handled alert is refused too
    other = "freeze" if action == "acknowledge" else "acknowledge"
    other_key = "reason" if other == "freeze" else "note"
    resp = await org.client.post(
        f"/v1/alerts/{ids[EAST]}/{other}", headers=org["brand_pr"].headers, json={other_key: "x"}
    )
    await problem(resp, 409)


async def test_two_people_acknowledging_at_once_change_it_once(org: Org) -> None:
    ids = await _three(org)
    responses = await asyncio.gather(
        *(
            org.client.post(
                f"/v1/alerts/{ids[WEST]}/acknowledge",
                headers=org[who].headers,
                json={"note": f"{who} 已处理"},
            )
            for who in ("brand_pr", "brand_pr2", "brand_pr", "brand_pr2")
        )
    )
    assert sorted(r.status for r in responses) == [200, 409, 409, 409]
    winner = await next(r for r in responses if r.status == 200).json()
    stored = await alert_store(org.client).require(ids[WEST])
    assert (stored.state, stored.note) == ("acknowledged", winner["note"])


async def test_freeze_stops_publishing_to_the_account_and_is_audited(org: Org) -> None:
    svc = org.client.app[SERVICES]
    await svc.vault.put(EAST, {"app_secret": VAULT_SECRET}, actor="test")
    ids = await _three(org)
    post = draft()
    token = await org.approve("unit_head", post, [EAST])  # approved before the freeze

    resp = await org.client.post(
        f"/v1/alerts/{ids[EAST]}/freeze",
        headers=org["brand_pr"].headers,
        json={"reason": "平台上出现未经审批的文章，先冻结"},
    )
    assert resp.status == 201, await resp.text()
    answer = await resp.json()
    assert (answer["scope"], answer["id"], answer["by"]) == ("account", EAST, org["brand_pr"].id)
    assert answer["alert"]["state"] == "frozen"
    assert answer["alert"]["note"] == "平台上出现未经审批的文章，先冻结"

    # the freeze is the Art. 8 switch: listed, shown on the account, and it stops a publish
    freezes = await org.client.get("/admin/freezes", headers=org["admin"].headers)
    assert [(f["scope"], f["id"]) for f in (await freezes.json())["freezes"]] == [("account", EAST)]
    account = await (
        await org.client.get(f"/v1/accounts/{EAST}", headers=org["editor"].headers)
    ).json()
    assert account["frozen"]["reason"] == "平台上出现未经审批的文章，先冻结"
    refused = await org.publish("editor", EAST, post, [token])
    assert (await problem(refused, 423))["reason"] == "frozen"
    # other accounts go on
    west_post = draft("华西分公司开展植树活动。")
    west_token = await org.approve("unit_head_west", west_post, [WEST])
    assert (await org.publish("editor_west", WEST, west_post, [west_token])).status == 202

    records = await org.audit()
    frozen = [r for r in records if r["action"] == "alert.frozen"]
    freeze = [r for r in records if r["action"] == "freeze"]
    assert len(frozen) == 1 and len(freeze) == 1
    assert frozen[0]["target"] == ids[EAST] and frozen[0]["details"]["freeze"] == f"account:{EAST}"
    assert freeze[0]["target"] == f"account:{EAST}"
    assert freeze[0]["details"]["alert"] == ids[EAST]
    assert frozen[0]["seq"] < freeze[0]["seq"]  # recorded before anything was frozen
    # no record holds a secret: no API key, no credential
    dumped = json.dumps(records, ensure_ascii=False)
    assert VAULT_SECRET not in dumped
    for caller in org.callers.values():
        assert caller.key not in dumped
    assert VAULT_SECRET not in json.dumps(answer, ensure_ascii=False)


async def test_a_store_outage_freezes_nothing(org: Org) -> None:
    """Fail closed: when the audit record cannot be written the account is not frozen and the
    alert stays open (503 with a reason)."""
    ids = await _three(org)
    svc = org.client.app[SERVICES]
    # a string where the audit stream should be: XADD fails, nothing may be recorded
    await svc.redis.delete(svc.keys.audit_stream())
    await svc.redis.set(svc.keys.audit_stream(), "not a stream")
    for action, key in (("freeze", "reason"), ("acknowledge", "note")):
        resp = await org.client.post(
            f"/v1/alerts/{ids[EAST]}/{action}",
            headers=org["brand_pr"].headers,
            json={key: "处理"},
        )
        assert (await problem(resp, 503))["reason"] == "audit_unavailable"
    assert await svc.freeze.list_all() == []
    assert (await alert_store(org.client).require(ids[EAST])).state == "open"
