"""Calls of the interactions API, as a newsroom program makes them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.delivery.conftest import FINAL, Gateway


async def call(
    gw: Gateway, method: str, path: str, who: str, body: Any = None, **headers: str
) -> tuple[int, Any, dict[str, str]]:
    async with gw.api.session.request(
        method, gw.api.base_url + path, headers={**gw.api.h(who), **headers}, json=body
    ) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)


async def submit(
    gw: Gateway, body: dict[str, Any], who: str = "editor", key: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Idempotency-Key": key} if key else {}
    return await call(gw, "POST", "/v1/interactions", who, body, **headers)


async def assess(gw: Gateway, body: dict[str, Any], who: str = "editor") -> dict[str, Any]:
    status, data, _ = await call(gw, "POST", "/v1/interactions/assess", who, body)
    assert status == 200, data
    return dict(data)


async def approve(gw: Gateway, body: dict[str, Any], who: str) -> str:
    status, data, _ = await call(
        gw, "POST", "/v1/interactions/approvals", who, {**body, "decision": "approve"}
    )
    assert status == 201, data
    return str(data["token"])


async def tokens_for(gw: Gateway, body: dict[str, Any]) -> list[str]:
    """A token from every role the assessment names (the east callers cover the defaults)."""
    needed = (await assess(gw, body))["required_roles"]
    return [await approve(gw, body, role) for role in needed]


async def wait_final(gw: Gateway, interaction_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status, data, _ = await call(gw, "GET", f"/v1/interactions/{interaction_id}", "brand_pr")
        assert status == 200, data
        if data["state"] in FINAL:
            return dict(data)
        if time.monotonic() > deadline:
            raise AssertionError(f"{interaction_id} still {data['state']}: {data}")
        await asyncio.sleep(0.1)
