"""Audit page: auditors search the log by post and by person and verify the hash chain."""

from __future__ import annotations

import re
from typing import Any

import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from gateway.keys import Keys
from tests.console.conftest import Caller, OpenDesk
from tests.gateway.conftest import file_active_account


def rows(html: str) -> int:
    return len(re.findall(r'data-testid="audit-row"', html))


async def test_search_by_post_and_by_person(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    await file_active_account(client, callers, "east-wechat", "sub_east", platform="wechat")
    await file_active_account(client, callers, "west-wechat", "sub_west", platform="wechat")
    desk = await open_desk(client, callers["auditor"].key)
    _, everything = await desk.get("/console/audit")
    _, east = await desk.get("/console/audit?post=east-wechat")
    assert 0 < rows(east) < rows(everything)
    assert "west-wechat" not in re.sub(r'value="[^"]*"', "", east)
    _, by_pr = await desk.get(f"/console/audit?person={callers['brand_pr'].id}")
    assert rows(by_pr) >= 2  # the two approvals of filings
    _, by_name = await desk.get("/console/audit?person=BRAND_PR")  # names match case-blind
    assert rows(by_name) == rows(by_pr)
    _, both = await desk.get(f"/console/audit?post=west-wechat&person={callers['brand_pr'].id}")
    assert rows(both) == 1


async def test_search_input_is_escaped(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client, callers["auditor"].key)
    status, html = await desk.get('/console/audit?post="><script>alert(1)</script>')
    assert status == 200
    assert "<script>alert(1)" not in html


async def test_chain_verification_passes_then_names_the_broken_record(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    await file_active_account(client, callers, "east-wechat", "sub_east", platform="wechat")
    desk = await open_desk(client, callers["auditor"].key)
    _, html = await desk.get("/console/audit?verify=1")
    assert 'data-testid="chain-ok"' in html
    stream = Keys().audit_stream()
    entry_id, _ = (await redis.xrange(stream, count=2))[1]
    await redis.xdel(stream, entry_id)  # someone removes the second record
    _, html = await desk.get("/console/audit?verify=1")
    assert 'data-testid="chain-broken"' in html
    assert re.search(r'data-testid="chain-broken">哈希链断裂：第 3 条', html), html


async def test_editors_cannot_read_the_audit_log(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client, callers["editor"].key)
    status, _ = await desk.get("/console/audit")
    assert status == 403
