"""Admin lexicons: terms added through the API on one gateway instance are applied by another
instance on the same Redis within a second, without a restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.gateway.conftest import Caller, MakeClient

CODENAME = "青龙计划"
POST = {
    "title": "项目进展",
    "content": f"<p>{CODENAME}进入第二阶段。</p>",
    "source": "战略部",
    "category": "news",
}


async def _screen(client: Any, caller: Caller) -> dict[str, Any]:
    resp = await client.post("/v1/screen", headers=caller.headers, json={"post": POST})
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def test_a_new_codename_reaches_a_second_instance_within_a_second(
    make_client: MakeClient, callers: dict[str, Caller]
) -> None:
    one, two = await make_client(), await make_client()
    assert one.app is not two.app
    before = await _screen(two, callers["editor"])
    assert before["decision"] == "pass", before

    resp = await one.post(
        "/admin/lexicons/codename/terms",
        headers=callers["brand_pr"].headers,
        json={"terms": [CODENAME], "severity": "high"},
    )
    assert resp.status == 201, await resp.text()
    entry = await resp.json()
    assert entry["category"] == "codename" and entry["terms_count"] == 1

    started = time.monotonic()
    while True:
        after = await _screen(two, callers["editor"])
        if after["decision"] == "block":
            break
        assert time.monotonic() - started < 1.0, "second instance did not apply the change in 1 s"
        await asyncio.sleep(0.05)
    finding = after["findings"][0]
    assert finding["category"] == "codename" and finding["text"] == CODENAME
    assert POST["content"][finding["start"] : finding["end"]] == CODENAME
    assert finding["field"] == "content"

    resp = await one.delete(
        "/admin/lexicons/codename/terms",
        headers=callers["admin"].headers,
        json={"terms": [CODENAME]},
    )
    assert resp.status == 200
    started = time.monotonic()
    while (await _screen(two, callers["editor"]))["decision"] != "pass":
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.05)


async def test_bad_terms_are_refused_naming_the_field(
    make_client: MakeClient, callers: dict[str, Caller]
) -> None:
    client = await make_client()
    for body, field in (
        ({"terms": ["x" * 65]}, "terms[0]"),
        ({"terms": "青龙"}, "terms"),
        ({"terms": ["ok"], "action": "explode"}, "action"),
        ({"terms": ["ok"], "extra": 1}, "extra"),
    ):
        resp = await client.post(
            "/admin/lexicons/codename/terms", headers=callers["brand_pr"].headers, json=body
        )
        assert resp.status == 422, (body, await resp.text())
        assert (await resp.json())["errors"][0]["field"] == field
    resp = await client.post(
        "/admin/lexicons/Bad-Name/terms", headers=callers["admin"].headers, json={"terms": ["x"]}
    )
    assert resp.status == 422
    listing = await (await client.get("/admin/lexicons", headers=callers["auditor"].headers)).json()
    assert listing["admin"] == []
    assert listing["files"], "the shipped lexicons are listed with their provenance"
