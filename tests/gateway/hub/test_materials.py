"""Material for Brand-PR (Art. 23): ``POST /v1/materials`` / ``GET /v1/materials``, bounded
input, who reads what, and the weekly report counting it (and flagging silent units)."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.appkeys import GATE
from gateway.hub.materials import MAX_FILE_BYTES
from gateway.settings import Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import COVER_BYTES, Org, problem, start_org

CST = timezone(timedelta(hours=8))
pytestmark = pytest.mark.usefixtures("one_cst_week")  # counts this week's activity
PNG = base64.b64encode(COVER_BYTES).decode()
PDF = base64.b64encode(b"%PDF-1.4\n% mediagate test\n").decode()


def this_week() -> str:
    year, week, _ = datetime.now(CST).isocalendar()
    return f"{year}-W{week:02d}"


def material(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "华东分公司开展安全生产月活动",
        "text": "6月12日，华东分公司组织应急演练，300余名员工参加。",
        "images": [{"filename": "现场.png", "content_type": "image/png", "data": PNG}],
        "files": [{"filename": "通讯稿.pdf", "content_type": "application/pdf", "data": PDF}],
    }
    body.update(changes)
    return body


@pytest.fixture
async def org(make_client: MakeClient, settings: Settings, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


async def send(org: Org, who: str, body: dict[str, Any]) -> Any:
    return await org.client.post("/v1/materials", headers=org[who].headers, json=body)


async def listed(org: Org, who: str, query: str = "") -> list[dict[str, Any]]:
    resp = await org.client.get(f"/v1/materials{query}", headers=org[who].headers)
    assert resp.status == 200, await resp.text()
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return items


async def weekly(org: Org) -> dict[str, dict[str, Any]]:
    resp = await org.client.get(
        "/v1/reports/weekly", params={"week": this_week()}, headers=org["brand_pr"].headers
    )
    assert resp.status == 200, await resp.text()
    return {u["unit"]: u for u in (await resp.json())["units"]}


async def test_a_unit_sends_material_and_brand_pr_reads_it(org: Org) -> None:
    resp = await send(org, "editor", material())
    assert resp.status == 201, await resp.text()
    sent = await resp.json()
    assert sent["id"].startswith("mat_") and sent["unit"] == "sub_east"
    assert sent["images"][0]["size_bytes"] == len(COVER_BYTES)
    assert "data" not in sent["images"][0]  # the list shape carries no payload
    assert resp.headers["Location"] == f"/v1/materials/{sent['id']}"

    assert [m["id"] for m in await listed(org, "brand_pr")] == [sent["id"]]
    assert [m["id"] for m in await listed(org, "unit_head")] == [sent["id"]]
    assert await listed(org, "editor_west") == []  # another unit's material is not theirs
    assert await listed(org, "brand_pr", "?unit=sub_west") == []
    one = await org.client.get(f"/v1/materials/{sent['id']}", headers=org["brand_pr"].headers)
    assert one.status == 200
    full = await one.json()
    assert base64.b64decode(full["files"][0]["data"]).startswith(b"%PDF")
    hidden = await org.client.get(f"/v1/materials/{sent['id']}", headers=org["editor_west"].headers)
    await problem(hidden, 404)
    records = [r for r in await org.audit() if r["action"] == "material.send"]
    assert records and records[-1]["target"] == sent["id"]
    # material is not a publish request: no job, no submission
    assert await org.client.app[GATE].jobs.list_jobs(limit=10) == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"text": "只有正文"}, 422, "title"),
        (material(title=""), 422, "title"),
        (material(title="题" * 201), 422, "title"),
        (material(text="字" * 20_001), 422, "text"),
        ({"title": "空的", "text": "  "}, 422, "text"),
        (
            material(
                images=[{"filename": "a.png", "content_type": "image/png", "data": "不是base64"}]
            ),
            422,
            "images[0].data",
        ),
        (
            material(images=[{"filename": "a.svg", "content_type": "image/svg+xml", "data": PNG}]),
            422,
            "images[0].content_type",
        ),
        (
            material(
                files=[
                    {"filename": "x.exe", "content_type": "application/x-msdownload", "data": PDF}
                ]
            ),
            422,
            "files[0].content_type",
        ),
        (
            material(
                files=[{"filename": "a.pdf", "content_type": "application/pdf", "data": PDF}] * 6
            ),
            422,
            "files",
        ),
        (material(images="现场.png"), 422, "images"),
        (material(publish=True), 422, "publish"),
        (
            material(files=[{"filename": "a.pdf", "content_type": "application/pdf", "data": ""}]),
            422,
            "files[0].data",
        ),
    ],
)
async def test_bad_material_is_refused_naming_the_field(
    org: Org, body: dict[str, Any], status: int, field: str
) -> None:
    data = await problem(await send(org, "editor", body), status)
    assert field in str(data), data


async def test_an_oversized_file_is_refused(org: Org) -> None:
    big = base64.b64encode(b"0" * (MAX_FILE_BYTES + 1)).decode()
    body = material(files=[{"filename": "大.pdf", "content_type": "application/pdf", "data": big}])
    raw = io.BytesIO(json.dumps(body).encode())  # a large body is streamed, as clients should
    resp = await org.client.post(
        "/v1/materials",
        headers={**org["editor"].headers, "Content-Type": "application/json"},
        data=raw,
    )
    assert resp.status == 413, await resp.text()


async def test_auditors_cannot_send_material(org: Org) -> None:
    await problem(await send(org, "auditor", material()), 403)


async def test_the_weekly_report_counts_material_and_flags_silent_units(org: Org) -> None:
    before = await weekly(org)
    assert before["sub_east"]["flags"] == ["silent"]
    for _ in range(2):
        assert (await send(org, "editor", material())).status == 201
    assert (await send(org, "editor_hq", material(title="战略部素材"))).status == 201
    units = await weekly(org)
    assert (units["sub_east"]["material"], units["sub_east"]["delivered"]) == (2, 2)
    assert units["sub_east"]["flags"] == []
    assert units["strategy_dept"]["material"] == 1 and units["strategy_dept"]["flags"] == []
    assert units["sub_west"]["flags"] == ["silent"]
    # Brand-PR's own unit receives material; it is not "silent" for sending none
    assert units["brand_pr"]["flags"] == [] and units["hq"]["flags"] == []


async def test_a_unit_without_an_information_administrator_is_flagged(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    units = dict(settings.policy.units)
    units["sub_west"] = dataclasses.replace(units["sub_west"], information_administrator="")
    units["brand_pr"] = dataclasses.replace(units["brand_pr"], information_administrator=" ")
    changed = dataclasses.replace(
        settings, policy=dataclasses.replace(settings.policy, units=units)
    )
    org = await start_org(make_client, changed, callers)
    flags = {u: r["flags"] for u, r in (await weekly(org)).items()}
    assert flags["sub_west"] == ["silent", "no_information_administrator"]
    assert flags["brand_pr"] == ["no_information_administrator"]  # named in policy, or flagged
    assert "no_information_administrator" not in flags["sub_east"]
    assert "no_information_administrator" not in flags["hq"]
