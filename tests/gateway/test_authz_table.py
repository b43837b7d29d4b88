"""Every route declares its roles; every other role gets 403, no key gets 401 (table-driven)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.routes import ROUTES, Route
from gateway.settings import ROLES
from tests.gateway.conftest import Caller

PROTECTED = [r for r in ROUTES if r.roles is not None]
CALLER_BY_ROLE = {
    "editor": "editor",
    "unit_head": "unit_head",
    "brand_pr": "brand_pr",
    "leader": "leader",
    "admin": "admin",
    "auditor": "auditor",
}


def _path(route: Route) -> str:
    return re.sub(r"{(\w+)}", "some-id", route.path)


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r.method} {r.path}")
async def test_without_a_key_every_protected_route_answers_401(
    client: TestClient[Any, Any], route: Route
) -> None:
    resp = await client.request(route.method, _path(route), json={})
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["status"] == 401 and body["type"].endswith("/unauthenticated")


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r.method} {r.path}")
async def test_a_bad_key_answers_401(client: TestClient[Any, Any], route: Route) -> None:
    for key in ("mg_0000_nope", "garbage", "mg_" + "a" * 500):
        resp = await client.request(
            route.method, _path(route), json={}, headers={"Authorization": f"Bearer {key}"}
        )
        assert resp.status == 401


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r.method} {r.path}")
async def test_roles_not_declared_for_a_route_get_403(
    client: TestClient[Any, Any], callers: dict[str, Caller], route: Route
) -> None:
    assert route.roles is not None
    for role in ROLES:
        if role in route.roles:
            continue
        resp = await client.request(
            route.method, _path(route), json={}, headers=callers[CALLER_BY_ROLE[role]].headers
        )
        assert resp.status == 403, (role, route.path, await resp.text())
        body = await resp.json()
        assert resp.content_type == "application/problem+json"
        assert body["reason"] == "wrong_role"


async def test_an_editor_cannot_call_any_admin_route(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    admin_routes = [r for r in PROTECTED if r.path.startswith("/admin/")]
    assert admin_routes
    for route in admin_routes:
        resp = await client.request(
            route.method, _path(route), json={}, headers=callers["editor"].headers
        )
        assert resp.status == 403, route.path


async def test_a_revoked_key_is_refused(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    editor = callers["editor"]
    assert (await client.get("/v1/accounts", headers=editor.headers)).status == 200
    resp = await client.delete(f"/admin/keys/{editor.id}", headers=callers["admin"].headers)
    assert resp.status == 200
    assert (await client.get("/v1/accounts", headers=editor.headers)).status == 401


async def test_keys_are_created_once_and_listed_without_secrets(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    resp = await client.post(
        "/admin/keys",
        headers=callers["admin"].headers,
        json={"name": "新编辑", "role": "editor", "unit": "sub_west"},
    )
    assert resp.status == 201
    key = (await resp.json())["key"]
    assert (
        await client.get("/v1/accounts", headers={"Authorization": f"Bearer {key}"})
    ).status == 200
    listing = await (await client.get("/admin/keys", headers=callers["admin"].headers)).text()
    secret = key.split("_", 2)[2]  # mg_<key id>_<secret>; the secret may hold "_" itself
    assert len(secret) >= 40 and secret not in listing
