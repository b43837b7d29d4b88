"""Bad input gets a 4xx problem+json naming the field: never a 500, never a hang.

The table-driven half iterates over :data:`gateway.routes.ROUTES`, so every route that takes a
body (``Route.request`` set) is covered the moment it is added; the explicit half pins the
representative cases (account filing, freeze, vault, keys) field by field.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.routes import ROUTES, Route
from gateway.settings import Settings
from tests.gateway.conftest import Caller, MakeClient, file_active_account

PROBLEM = "application/problem+json"
ANSWER_TIMEOUT_S = 5.0
ACCOUNT = "east-weibo"
# Path parameters filled with something that exists, so the body is what gets judged.
PARAMS = {"account": ACCOUNT, "category": "advertising"}
WITH_BODY = [r for r in ROUTES if r.request]
# Which caller (see conftest) to use for a route: the most capable one it admits.
ROLE_PREFERENCE = ("admin", "brand_pr", "unit_head", "leader", "editor", "auditor")


def _path(route: Route) -> str:
    return re.sub(r"{(\w+)}", lambda m: PARAMS.get(m.group(1), ACCOUNT), route.path)


def _unresolved(route: Route) -> bool:
    """The path names something this file cannot make exist (a post id): 404 is then fair."""
    return any(name not in PARAMS for name in re.findall(r"{(\w+)}", route.path))


def _caller_for(route: Route, callers: dict[str, Caller]) -> Caller:
    assert route.roles is not None
    for role in ROLE_PREFERENCE:
        if role in route.roles:
            return callers[role]
    raise AssertionError(f"no caller for {route.roles}")  # pragma: no cover


async def _send(
    client: TestClient[Any, Any],
    method: str,
    path: str,
    caller: Caller | None,
    *,
    data: Any = None,
    json: Any = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    """Send one request and return (status, problem body); fails on a hang or a non-problem."""
    headers = dict(caller.headers) if caller else {}
    if data is not None:
        headers["Content-Type"] = content_type

    async def go() -> tuple[int, dict[str, Any], str]:
        resp = await client.request(method, path, data=data, json=json, headers=headers)
        return resp.status, await resp.json(content_type=None), resp.content_type

    status, body, ctype = await asyncio.wait_for(go(), ANSWER_TIMEOUT_S)
    assert 400 <= status < 500, (status, body)
    assert ctype == PROBLEM, (status, ctype)
    assert body["status"] == status
    return status, body


def _names(body: dict[str, Any], field: str) -> bool:
    fields = [e.get("field", "") for e in body.get("errors", [])]
    return (bool(fields) and field in fields[0]) or field in body.get("detail", "")


@pytest.fixture
async def ready(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with one filed, active account so account paths resolve."""
    await file_active_account(client, callers, ACCOUNT)
    yield client


# --- table-driven over every route with a body -------------------------------------------------

BODY_CASES: list[tuple[str, bytes, int, str]] = [
    # (case, raw body, expected status, field named)
    ("malformed", b'{"id": ', 400, "body"),
    ("trailing garbage", b"{} x", 400, "body"),
    ("array", b"[1, 2]", 422, "body"),
    ("string", b'"text"', 422, "body"),
    ("number", b"42", 422, "body"),
    ("null", b"null", 422, "body"),
    ("duplicate key", b'{"a": 1, "a": 2}', 400, "body"),
    ("invalid utf-8", b'{"name": "\xff\xfe"}', 400, "body"),
    ("lone surrogate bytes", b'{"name": "\xed\xa0\x80"}', 400, "body"),
    ("unknown field", b'{"zz_unknown_field": 1}', 422, "zz_unknown_field"),
    ("NaN", b'{"zz": NaN', 400, "body"),
]


@pytest.mark.parametrize("route", WITH_BODY, ids=lambda r: f"{r.method} {r.path}")
async def test_every_body_route_names_the_problem(
    ready: TestClient[Any, Any], callers: dict[str, Caller], route: Route
) -> None:
    caller = _caller_for(route, callers)
    for case, raw, expected, field in BODY_CASES:
        status, body = await _send(ready, route.method, _path(route), caller, data=raw)
        if status == 404 and _unresolved(route):
            continue
        assert status == expected, (case, body)
        assert _names(body, field), (case, body)


@pytest.mark.parametrize("route", WITH_BODY, ids=lambda r: f"{r.method} {r.path}")
async def test_every_body_route_refuses_non_json_content_types(
    ready: TestClient[Any, Any], callers: dict[str, Caller], route: Route
) -> None:
    caller = _caller_for(route, callers)
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, body = await _send(
            ready, route.method, _path(route), caller, data=b"{}", content_type=ctype
        )
        if status == 404 and _unresolved(route):
            continue
        assert status == 415, (ctype, body)
        assert _names(body, "Content-Type")


@pytest.mark.parametrize("route", WITH_BODY, ids=lambda r: f"{r.method} {r.path}")
async def test_every_body_route_refuses_deep_nesting(
    ready: TestClient[Any, Any], callers: dict[str, Caller], settings: Settings, route: Route
) -> None:
    caller = _caller_for(route, callers)
    depth = settings.limits.max_json_depth + 5
    for raw in (
        b'{"a": ' * depth + b"1" + b"}" * depth,
        b'{"a": ' + b"[" * depth + b"]" * depth + b"}",
        b"[" * 100_000,  # unbalanced too
    ):
        status, body = await _send(ready, route.method, _path(route), caller, data=raw)
        if status == 404 and _unresolved(route):
            continue
        assert status == 400, body
        assert "deeper" in body["detail"] and _names(body, "body")


@pytest.mark.parametrize("route", WITH_BODY, ids=lambda r: f"{r.method} {r.path}")
async def test_every_body_route_answers_401_and_403_before_reading_bad_bodies(
    ready: TestClient[Any, Any], callers: dict[str, Caller], route: Route
) -> None:
    assert route.roles is not None
    status, body = await _send(ready, route.method, _path(route), None, data=b"{bad")
    assert status == 401 and body["reason"] == "missing_key"
    outsiders = [r for r in ROLE_PREFERENCE if r not in route.roles]
    if outsiders:
        status, body = await _send(
            ready, route.method, _path(route), callers[outsiders[0]], data=b"{bad"
        )
        assert status == 403 and body["reason"] == "wrong_role"


async def _oversized(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller], chunked: bool
) -> None:
    limit = 1024
    small = dataclasses.replace(
        settings, limits=dataclasses.replace(settings.limits, max_body_bytes=limit)
    )
    client = await make_client(small)
    await file_active_account(client, callers, ACCOUNT)
    raw = b'{"name": "' + b"x" * (limit * 4) + b'"}'

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), 256):
            yield raw[i : i + 256]

    for route in WITH_BODY:
        data: Any = stream() if chunked else raw
        status, body = await _send(
            client, route.method, _path(route), _caller_for(route, callers), data=data
        )
        if status == 404 and _unresolved(route):
            continue
        assert status == 413, (route.path, body)
        assert str(limit) in body["detail"] and "body" in body["detail"]


async def test_oversized_bodies_answer_413(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    await _oversized(make_client, settings, callers, chunked=False)


async def test_oversized_chunked_bodies_answer_413(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    await _oversized(make_client, settings, callers, chunked=True)


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """As ``run.py serve`` does after start-up: long-lived objects out of the collector's way."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


async def test_pathological_bodies_answer_fast(
    ready: TestClient[Any, Any], callers: dict[str, Caller], frozen_heap: None, loop_guard: Any
) -> None:
    """A megabyte of brackets or of one string is judged quickly and blocks nothing."""
    bodies = [
        b"[" * 1_000_000,
        b"{" * 1_000_000,
        b'{"a":' * 200_000,
        b'{"name": "' + b"\\" * 1_000_000,
        b'{"name": "' + b"x" * 1_000_000 + b'"}',
        b'{"a": [' + b"[], " * 250_000 + b"[]]}",
    ]
    for raw in bodies:
        start = time.perf_counter()
        await _send(ready, "POST", "/v1/accounts", callers["admin"], data=raw)
        assert time.perf_counter() - start < 2.0, raw[:20]


# --- representative routes, field by field -----------------------------------------------------

FILING = {"id": "new-acct", "platform": "weibo", "name": "新账号", "unit": "sub_east"}

FILING_CASES: list[tuple[dict[str, Any], int, str]] = [
    ({**FILING, "id": 7}, 422, "id"),
    ({**FILING, "id": "UPPER case!"}, 422, "id"),
    ({**FILING, "id": None}, 422, "id"),
    ({k: v for k, v in FILING.items() if k != "platform"}, 422, "platform"),
    ({**FILING, "platform": ["weibo"]}, 422, "platform"),
    ({**FILING, "name": ""}, 422, "name"),
    ({**FILING, "name": "   "}, 422, "name"),
    ({**FILING, "name": "名" * 100_000}, 422, "name"),
    ({**FILING, "unit": "atlantis"}, 422, "unit"),
    ({**FILING, "unit": 3.5}, 422, "unit"),
    ({**FILING, "operators": "alice"}, 422, "operators"),
    ({**FILING, "operators": ["ok", 5]}, 422, "operators[1]"),
    ({**FILING, "operators": [""]}, 422, "operators[0]"),
    ({**FILING, "settings": []}, 422, "settings"),
    ({**FILING, "settings": {"base_url": {"nested": 1}}}, 422, "settings.base_url"),
    ({**FILING, "settings": {"app_secret": "x"}}, 422, "settings.app_secret"),
    ({**FILING, "note": 12}, 422, "note"),
    ({**FILING, "extra": True}, 422, "extra"),
]


@pytest.mark.parametrize(("payload", "status", "field"), FILING_CASES)
async def test_account_filing_names_the_field(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    payload: dict[str, Any],
    status: int,
    field: str,
) -> None:
    got, body = await _send(client, "POST", "/v1/accounts", callers["admin"], json=payload)
    assert got == status, body
    assert body["errors"][0]["field"] == field, body


FREEZE_CASES: list[tuple[dict[str, Any], int, str]] = [
    ({"scope": "galaxy", "reason": "r"}, 422, "scope"),
    ({"scope": 1, "reason": "r"}, 422, "scope"),
    ({"scope": "account", "reason": "r"}, 422, "id"),
    # Well-formed ids of things that do not exist: 404 naming the field, like every other route
    # (a 422 would say the request itself is malformed, which the schema says it is not).
    ({"scope": "account", "id": "no-such-account", "reason": "r"}, 404, "id"),
    ({"scope": "unit", "id": "atlantis", "reason": "r"}, 404, "id"),
    ({"scope": "all"}, 422, "reason"),
    ({"scope": "all", "reason": ["r"]}, 422, "reason"),
    ({"scope": "all", "reason": "r" * 3000}, 422, "reason"),
    ({"scope": "all", "reason": "r", "force": True}, 422, "force"),
]


@pytest.mark.parametrize(("payload", "status", "field"), FREEZE_CASES)
async def test_freeze_names_the_field(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    payload: dict[str, Any],
    status: int,
    field: str,
) -> None:
    got, body = await _send(client, "POST", "/admin/freeze", callers["admin"], json=payload)
    assert got == status, body
    assert body["errors"][0]["field"] == field, body


async def test_vault_and_keys_name_the_field(
    ready: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    admin = callers["admin"]
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("PUT", f"/admin/vault/{ACCOUNT}", {"fields": "x"}, 422, "fields"),
        ("PUT", f"/admin/vault/{ACCOUNT}", {"fields": {}}, 422, "fields"),
        ("PUT", f"/admin/vault/{ACCOUNT}", {"fields": {"app_secret": 5}}, 422, "fields.app_secret"),
        ("PUT", f"/admin/vault/{ACCOUNT}", {"fields": {"a": "x" * 100_000}}, 422, "fields.a"),
        ("PUT", f"/admin/vault/{ACCOUNT}", {"fields": {"bad name!": "x"}}, 422, "fields"),
        ("POST", "/admin/keys", {"name": "n", "role": "root", "unit": "hq"}, 422, "role"),
        ("POST", "/admin/keys", {"name": "n", "role": "editor", "unit": "mars"}, 422, "unit"),
        ("POST", "/admin/keys", {"name": "", "role": "editor", "unit": "hq"}, 422, "name"),
        ("POST", "/admin/keys", {"role": "editor", "unit": "hq"}, 422, "name"),
    ]
    for method, path, payload, status, field in cases:
        got, body = await _send(ready, method, path, admin, json=payload)
        assert got == status, (path, payload, body)
        assert body["errors"][0]["field"] == field, (path, payload, body)


async def test_unknown_accounts_answer_404_or_name_the_field(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    status, body = await _send(
        client, "POST", "/v1/accounts/no-such/approve", callers["brand_pr"], json={}
    )
    assert status == 404 and "no-such" in body["detail"]
    status, body = await _send(client, "GET", "/v1/accounts/no-such", callers["admin"])
    assert status == 404
    status, body = await _send(
        client, "PUT", "/admin/vault/no-such", callers["admin"], json={"fields": {"a": "b"}}
    )
    assert status == 404 and body["field"] == "account"
    status, body = await _send(client, "GET", "/admin/vault/no-such", callers["admin"])
    assert status == 404


async def test_wrong_role_and_other_unit_get_403_naming_why(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    status, body = await _send(client, "POST", "/admin/freeze", callers["editor"], json={})
    assert status == 403 and body["reason"] == "wrong_role"
    assert "editor" in body["detail"]
    # A unit head of sub_west may not file for sub_east.
    status, body = await _send(
        client, "POST", "/v1/accounts", callers["unit_head_west"], json=FILING
    )
    assert status == 403 and "sub_east" in body["detail"]


async def test_bad_authorization_headers_answer_401(client: TestClient[Any, Any]) -> None:
    for header in ("", "Bearer", "Bearer    ", "Basic dXNlcjpwdw==", "Bearer " + "k" * 4_000):
        resp = await asyncio.wait_for(
            client.post("/admin/freeze", json={}, headers={"Authorization": header}),
            ANSWER_TIMEOUT_S,
        )
        assert resp.status == 401, header[:20]
        assert resp.content_type == PROBLEM
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
