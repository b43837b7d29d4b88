"""Reports: weekly material and published posts per unit with silence, quota and
information-administrator flags (Art. 9, 23; material itself in tests/gateway/hub/), and the
annual filing export of accounts and their activity (Art. 24), JSON and CSV; both count the
bypass alerts of each account (docs/bypass.md)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.appkeys import GATE
from gateway.settings import Settings
from tests.gateway.alert_support import EDIT_DIFF, seed
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import EAST, HQ, PLAIN, WEST, Org, draft, problem, start_org

CST = timezone(timedelta(hours=8))
pytestmark = pytest.mark.usefixtures("one_cst_week")  # counts this week's activity


def _this_week() -> str:
    year, week, _ = datetime.now(CST).isocalendar()
    return f"{year}-W{week:02d}"


@pytest.fixture
async def org(make_client: MakeClient, settings: Settings, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


async def _publish_east(org: Org, content: str = PLAIN) -> str:
    post = draft(content)
    token = await org.approve("unit_head", post, [EAST])
    resp = await org.publish("editor", EAST, post, [token])
    assert resp.status == 202, await resp.text()
    job_id: str = (await resp.json())["id"]
    return job_id


async def _weekly(org: Org, week: str) -> dict[str, dict[str, Any]]:
    resp = await org.client.get(
        "/v1/reports/weekly", params={"week": week}, headers=org["brand_pr"].headers
    )
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["week"] == week
    return {u["unit"]: u for u in data["units"]}


async def test_weekly_counts_delivered_work_per_unit_and_flags_units(org: Org) -> None:
    job_id = await _publish_east(org)
    await org.published(job_id)  # as the delivery worker would (no worker runs in these tests)
    refused = await org.publish("editor", EAST, draft(PLAIN + "！"), [])
    assert refused.status == 403
    hq_post = draft(PLAIN + "。")
    hq_tokens = [await org.approve(w, hq_post, [HQ]) for w in ("dept_head", "brand_pr")]
    hq = await org.publish("editor_hq", HQ, hq_post, hq_tokens)
    assert hq.status == 202
    await org.published((await hq.json())["id"])

    units = await _weekly(org, _this_week())
    east, west = units["sub_east"], units["sub_west"]
    # published posts count, refused attempts do not (they stay on record)
    assert (east["published"], east["delivered"], east["refused"]) == (1, 1, 1)
    assert east["flags"] == []
    # sub_west delivered nothing this week: silent (Art. 23)
    assert (west["delivered"], west["weekly_quota"]) == (0, 1)
    assert west["flags"] == ["silent"]
    # the strategy department's post on the HQ account counts for the department
    assert units["strategy_dept"]["published"] == 1 and units["strategy_dept"]["flags"] == []
    assert units["hq"]["published"] == 0
    # Brand-PR's own unit and HQ are never "silent"; every unit names its administrator
    assert units["brand_pr"]["flags"] == [] and units["hq"]["flags"] == []
    assert units["sub_east"]["information_administrator"] == "王芳"


async def test_weekly_counts_a_raced_attempt_once(org: Org) -> None:
    """Five concurrent publishes with one token: five submissions, four refused, one job."""
    post = draft(PLAIN)
    token = await org.approve("unit_head", post, [EAST])
    responses = await asyncio.gather(
        *(org.publish("editor", EAST, post, [token]) for _ in range(5))
    )
    assert sorted(r.status for r in responses) == [202, 409, 409, 409, 409]
    east = (await _weekly(org, _this_week()))["sub_east"]
    assert (east["submitted"], east["refused"], east["delivered"]) == (5, 4, 0)
    assert east["flags"] == ["silent"]  # attempts are not work delivered


async def test_weekly_csv_and_other_weeks(org: Org) -> None:
    await _publish_east(org)
    resp = await org.client.get(
        "/v1/reports/weekly",
        params={"week": _this_week(), "format": "csv"},
        headers=org["auditor"].headers,
    )
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/csv"
    assert _this_week() in resp.headers["Content-Disposition"]
    rows = {r["unit"]: r for r in csv.DictReader(io.StringIO(await resp.text()))}
    assert set(rows) == {"hq", "brand_pr", "strategy_dept", "sub_east", "sub_west"}
    assert rows["sub_east"]["submitted"] == "1"
    assert rows["sub_west"]["flags"] == "silent"
    assert rows["brand_pr"]["name"] == "品牌公关部"

    # a week with no activity: every subsidiary silent
    units = await _weekly(org, "2026-W01")
    assert all(u["submitted"] == 0 for u in units.values())
    assert "silent" in units["sub_east"]["flags"]


@pytest.mark.parametrize("week", ["2026-48", "2026-W54", "W48", "2026-W4x"])
async def test_weekly_rejects_a_bad_week(org: Org, week: str) -> None:
    resp = await org.client.get(
        "/v1/reports/weekly", params={"week": week}, headers=org["brand_pr"].headers
    )
    assert (await problem(resp, 422))["errors"][0]["field"] == "week"


@pytest.mark.parametrize("who", ["editor", "unit_head", "leader"])
async def test_reports_are_for_brand_pr_and_auditors(org: Org, who: str) -> None:
    for path in ("/v1/reports/weekly", "/v1/reports/annual"):
        await problem(await org.client.get(path, headers=org[who].headers), 403)


async def test_annual_report_lists_accounts_and_activity_json_and_csv(org: Org) -> None:
    published = await _publish_east(org)
    await org.published(published)
    await _publish_east(org, PLAIN + "。")  # still approved (no delivery worker)
    # a deletion of the published post, settled as the worker would after the platform confirmed
    resp = await org.client.delete(
        f"/v1/posts/{published}", headers=org["brand_pr"].headers, json={"reason": "过时"}
    )
    assert resp.status == 202, await resp.text()
    delete_job = (await resp.json())["id"]
    await org.client.app[GATE].jobs.transition(delete_job, "deleted")

    year = datetime.now(CST).year
    resp = await org.client.get(
        "/v1/reports/annual", params={"year": str(year)}, headers=org["auditor"].headers
    )
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["year"] == year
    accounts = {a["account"]: a for a in data["accounts"]}
    assert set(accounts) >= {EAST, WEST, HQ}
    east = accounts[EAST]
    assert (east["unit"], east["platform"], east["state"]) == ("sub_east", "wechat", "active")
    assert (east["jobs"], east["published"], east["deleted"]) == (3, 1, 1)
    assert east["filed_at"] and east["approved_at"]
    assert accounts[WEST]["jobs"] == 0

    resp = await org.client.get(
        "/v1/reports/annual",
        params={"year": str(year), "format": "csv"},
        headers=org["brand_pr"].headers,
    )
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    rows = {r["account"]: r for r in csv.DictReader(io.StringIO(await resp.text()))}
    assert rows[EAST]["jobs"] == "3"
    assert rows[EAST]["deleted"] == "1"
    assert rows[WEST]["published"] == "0"

    resp = await org.client.get(
        "/v1/reports/annual", params={"year": "1999"}, headers=org["brand_pr"].headers
    )
    assert (await problem(resp, 422))["errors"][0]["field"] == "year"
    # another year has the accounts but no activity
    resp = await org.client.get(
        "/v1/reports/annual", params={"year": str(year - 1)}, headers=org["brand_pr"].headers
    )
    assert all(a["jobs"] == 0 for a in (await resp.json())["accounts"])


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"week": "1000-W01"}, 422),  # reached the store as a negative stream id: 503 before
        ({"week": "2026-W54"}, 422),
        ({"week": "2026-w01"}, 422),
        ({"week": ""}, 422),
        ({"week": "2024-W53"}, 404),  # well-formed, but 2024 has 52 ISO weeks
        ({"format": "xml"}, 422),
        ({"year": "1999"}, 422),
        ({"year": "二〇二六"}, 422),
    ],
)
async def test_report_queries_are_bounded_by_their_definitions(
    org: Org, query: dict[str, str], status: int
) -> None:
    path = "/v1/reports/annual" if "year" in query else "/v1/reports/weekly"
    resp = await org.client.get(path, params=query, headers=org["brand_pr"].headers)
    body = await resp.json(content_type=None)
    assert resp.status == status, body
    assert body["errors"][0]["field"] in query, body


async def _alerts_this_week(org: Org) -> dict[str, str]:
    """Alerts of three kinds on EAST, one on WEST, one last year on HQ; one of EAST's
    acknowledged and one frozen (through the API, as Brand-PR would)."""
    now = time.time()
    publish = await seed(org.client, "unapproved_publish", EAST, unit="sub_east")
    edit = await seed(org.client, "unapproved_edit", EAST, unit="sub_east", diff=EDIT_DIFF)
    await seed(org.client, "removed_outside", EAST, unit="sub_east")
    await seed(org.client, "unapproved_publish", WEST, unit="sub_west")
    await seed(org.client, "unapproved_publish", HQ, unit="hq", detected_at=now - 400 * 86400)
    resp = await org.client.post(
        f"/v1/alerts/{publish.id}/acknowledge",
        headers=org["brand_pr"].headers,
        json={"note": "已核实"},
    )
    assert resp.status == 200, await resp.text()
    resp = await org.client.post(
        f"/v1/alerts/{edit.id}/freeze", headers=org["brand_pr"].headers, json={"reason": "冻结"}
    )
    assert resp.status == 201, await resp.text()
    return {"publish": publish.id, "edit": edit.id}


async def test_weekly_counts_alerts_per_account_in_json_and_csv_alike(org: Org) -> None:
    await _alerts_this_week(org)
    resp = await org.client.get(
        "/v1/reports/weekly", params={"week": _this_week()}, headers=org["brand_pr"].headers
    )
    assert resp.status == 200, await resp.text()
    alerts = {r["account"]: r for r in (await resp.json())["alerts"]}
    assert set(alerts) == {EAST, WEST, HQ, "strategy-wechat"}  # every filed account
    east = alerts[EAST]
    assert (east["unapproved_publish"], east["unapproved_edit"], east["removed_outside"]) == (
        1,
        1,
        1,
    )
    assert (east["alerts"], east["unit"], east["platform"]) == (3, "sub_east", "wechat")
    assert (alerts[WEST]["unapproved_publish"], alerts[WEST]["alerts"]) == (1, 1)
    assert alerts[HQ]["alerts"] == 0  # its alert was last year

    resp = await org.client.get(
        "/v1/reports/weekly",
        params={"week": _this_week(), "format": "csv", "table": "alerts"},
        headers=org["auditor"].headers,
    )
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert f"weekly-alerts-{_this_week()}" in resp.headers["Content-Disposition"]
    rows = {r["account"]: r for r in csv.DictReader(io.StringIO(await resp.text()))}
    assert set(rows) == set(alerts)
    for account, row in rows.items():  # the CSV says what the JSON says, as text
        assert row == {k: str(v) for k, v in alerts[account].items()}, account

    # a quiet week: the table is there, with zeros, and the CSV still has its header
    quiet = await org.client.get(
        "/v1/reports/weekly",
        params={"week": "2026-W01", "format": "csv", "table": "alerts"},
        headers=org["auditor"].headers,
    )
    lines = (await quiet.text()).splitlines()
    assert lines[0] == "account,unit,platform,name,unapproved_publish,unapproved_edit," \
        "removed_outside,alerts"  # fmt: skip
    assert all(line.endswith(",0,0,0,0") for line in lines[1:])
    # the units table is still the default CSV
    units = await org.client.get(
        "/v1/reports/weekly",
        params={"week": _this_week(), "format": "csv"},
        headers=org["auditor"].headers,
    )
    assert "unit" in next(csv.DictReader(io.StringIO(await units.text())))


async def test_weekly_refuses_an_unknown_table(org: Org) -> None:
    resp = await org.client.get(
        "/v1/reports/weekly",
        params={"format": "csv", "table": "accounts"},
        headers=org["brand_pr"].headers,
    )
    assert (await problem(resp, 422))["errors"][0]["field"] == "table"


async def test_annual_lists_accounts_with_bypass_alerts(org: Org) -> None:
    await _alerts_this_week(org)
    year = datetime.now(CST).year
    resp = await org.client.get(
        "/v1/reports/annual", params={"year": str(year)}, headers=org["auditor"].headers
    )
    data = await resp.json()
    assert sorted(data["bypass"]) == sorted([EAST, WEST])
    accounts = {a["account"]: a for a in data["accounts"]}
    east = accounts[EAST]
    assert east["alerts"] == 3
    assert (
        east["alerts_unapproved_publish"],
        east["alerts_unapproved_edit"],
        east["alerts_removed_outside"],
    ) == (1, 1, 1)
    assert (east["alerts_acknowledged"], east["alerts_frozen"]) == (1, 1)
    assert (accounts[WEST]["alerts"], accounts[WEST]["alerts_acknowledged"]) == (1, 0)
    assert accounts[HQ]["alerts"] == 0

    resp = await org.client.get(
        "/v1/reports/annual",
        params={"year": str(year), "format": "csv"},
        headers=org["brand_pr"].headers,
    )
    rows = {r["account"]: r for r in csv.DictReader(io.StringIO(await resp.text()))}
    assert (rows[EAST]["alerts_frozen"], rows[EAST]["alerts_unapproved_edit"]) == ("1", "1")
    assert rows[WEST]["alerts"] == "1"
    # the year of HQ's old alert (CST years; the alert is ~400 days old)
    last = await org.client.get(
        "/v1/reports/annual",
        params={"year": str(year - 1)},
        headers=org["brand_pr"].headers,
    )
    old = await last.json()
    hq_year = datetime.fromtimestamp(time.time() - 400 * 86400, CST).year
    assert (HQ in old["bypass"]) == (hq_year == year - 1)
