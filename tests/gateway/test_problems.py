"""One error shape for every error path: RFC 9457 problem+json with the request id.

Pins ``type``, ``title``, ``status``, ``detail``, ``instance`` and ``request_id`` for each status
the gateway answers with, the generic 500 for an unknown exception (nothing internal leaked,
the traceback logged), and the ``X-Request-Id`` echo.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import Runtime, create_app
from gateway.errors import PROBLEM_BASE, Conflict
from gateway.settings import Settings
from tests.gateway.conftest import Caller, MakeClient

PROBLEM = "application/problem+json"
INTERNAL_DETAIL = "internal-detail-7c1f: password=hunter2 at /srv/secret/path.py"
_GENERATED_ID = re.compile(r"^[0-9a-f]{16}$")

Request = Callable[[TestClient[Any, Any], dict[str, Caller]], Awaitable[Any]]


async def assert_problem(resp: Any, status: int) -> dict[str, Any]:
    """The response is a complete problem document for ``status``; returns the body."""
    assert resp.status == status, await resp.text()
    assert resp.content_type == PROBLEM
    assert resp.charset == "utf-8"
    body: dict[str, Any] = await resp.json(content_type=None)
    for member in ("type", "title", "status", "detail", "instance", "request_id"):
        assert member in body, (member, body)
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE)
    assert body["title"] and body["detail"]
    assert body["instance"] == resp.url.path
    assert body["request_id"] == resp.headers["X-Request-Id"]
    return body


def _h(callers: dict[str, Caller], name: str) -> dict[str, str]:
    return callers[name].headers


ERROR_PATHS: list[tuple[str, int, Request]] = [
    ("malformed JSON", 400, lambda c, k: c.post(
        "/admin/freeze", data=b"{", headers={**_h(k, "admin"), "Content-Type": "application/json"}
    )),
    ("no key", 401, lambda c, k: c.get("/v1/accounts")),
    ("bad key", 401, lambda c, k: c.get(
        "/v1/accounts", headers={"Authorization": "Bearer mg_nope_nope"}
    )),
    ("wrong role", 403, lambda c, k: c.post("/admin/freeze", json={}, headers=_h(k, "editor"))),
    ("other unit", 403, lambda c, k: c.post(
        "/v1/accounts",
        json={"id": "w-acct", "platform": "weibo", "name": "n", "unit": "sub_west"},
        headers=_h(k, "unit_head"),
    )),
    ("unknown path", 404, lambda c, k: c.get("/no/such/path")),
    ("unknown account", 404, lambda c, k: c.get("/v1/accounts/nope", headers=_h(k, "admin"))),
    ("wrong method", 405, lambda c, k: c.delete("/livez")),
    ("wrong method, protected", 405, lambda c, k: c.put("/admin/freeze", json={})),
    ("unsupported media type", 415, lambda c, k: c.post(
        "/admin/freeze", data=b"{}", headers={**_h(k, "admin"), "Content-Type": "text/plain"}
    )),
    ("invalid field", 422, lambda c, k: c.post(
        "/admin/freeze", json={"scope": "moon"}, headers=_h(k, "admin")
    )),
    ("approve without a pending filing", 404, lambda c, k: c.post(
        "/v1/accounts/nope/approve", json={}, headers=_h(k, "brand_pr")
    )),
]  # fmt: skip


@pytest.mark.parametrize(("case", "status", "send"), ERROR_PATHS, ids=[e[0] for e in ERROR_PATHS])
async def test_every_error_path_has_the_problem_shape(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    case: str,
    status: int,
    send: Request,
) -> None:
    body = await assert_problem(await send(client, callers), status)
    if status == 422:
        assert body["errors"] and {"field", "message"} <= set(body["errors"][0])


async def test_401_carries_a_bearer_challenge(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/v1/accounts")
    await assert_problem(resp, 401)
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="mediagate"'


async def test_413_has_the_problem_shape(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    small = dataclasses.replace(
        settings, limits=dataclasses.replace(settings.limits, max_body_bytes=64)
    )
    client = await make_client(small)
    resp = await client.post(
        "/admin/freeze", json={"reason": "x" * 200}, headers=_h(callers, "admin")
    )
    body = await assert_problem(resp, 413)
    assert body["limit_bytes"] == 64


async def test_vault_unavailable_is_a_503_problem(
    make_client: MakeClient, runtime: Runtime, callers: dict[str, Caller]
) -> None:
    client = await make_client(runtime_=dataclasses.replace(runtime, master_key=None))
    resp = await client.get("/admin/vault/any", headers=_h(callers, "admin"))
    body = await assert_problem(resp, 503)
    assert body["reason"] == "vault_unavailable"


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError(INTERNAL_DETAIL)


async def _conflict(request: web.Request) -> web.Response:
    raise Conflict("already there", field="id")


async def _aiohttp_error(request: web.Request) -> web.Response:
    raise web.HTTPTooManyRequests(reason="slow down")


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/livez")


@pytest.fixture
async def odd_client(
    aiohttp_client: Any, redis: Any, settings: Settings, runtime: Runtime
) -> TestClient[Any, Any]:
    """The real app plus throwaway public routes that fail in unusual ways."""
    app = create_app(settings, runtime)
    app.router.add_get("/test/boom", _boom)
    app.router.add_get("/test/conflict", _conflict)
    app.router.add_get("/test/aiohttp-error", _aiohttp_error)
    app.router.add_get("/test/redirect", _redirect)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def test_an_unknown_exception_is_a_generic_500_with_the_request_id(
    odd_client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.middleware"):
        resp = await odd_client.get("/test/boom", headers={"X-Request-Id": "trace-500"})
        text = await resp.text()
        body = await assert_problem(resp, 500)
    assert body["request_id"] == "trace-500"
    assert "trace-500" in body["detail"]
    assert body["type"] == PROBLEM_BASE + "internal"
    # Nothing internal leaks: not the message, not the exception type, not a traceback.
    for leak in ("internal-detail", "hunter2", "RuntimeError", "Traceback", ".py"):
        assert leak not in text and leak not in str(resp.headers)
    # ... but the operator gets the whole story, tied to the request id.
    logged = [r for r in caplog.records if "trace-500" in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert INTERNAL_DETAIL in str(logged[0].exc_info[1])


async def test_gateway_errors_raised_anywhere_keep_their_members(
    odd_client: TestClient[Any, Any],
) -> None:
    body = await assert_problem(await odd_client.get("/test/conflict"), 409)
    assert body["field"] == "id" and body["type"] == PROBLEM_BASE + "conflict"


async def test_aiohttp_http_errors_become_problems_and_redirects_pass(
    odd_client: TestClient[Any, Any],
) -> None:
    body = await assert_problem(await odd_client.get("/test/aiohttp-error"), 429)
    assert body["detail"] == "slow down"
    resp = await odd_client.get("/test/redirect", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/livez"
    assert "X-Request-Id" in resp.headers


async def test_405_names_the_allowed_methods(client: TestClient[Any, Any]) -> None:
    body = await assert_problem(await client.delete("/livez"), 405)
    assert "GET" in body["detail"]


@pytest.mark.parametrize("given", ["abc-123", "A.b_C-9", "x" * 64, "0f1e2d3c4b5a6978"])
async def test_a_valid_request_id_is_kept(client: TestClient[Any, Any], given: str) -> None:
    ok = await client.get("/livez", headers={"X-Request-Id": given})
    assert ok.status == 200 and ok.headers["X-Request-Id"] == given
    bad = await client.get("/nope", headers={"X-Request-Id": given})
    assert (await assert_problem(bad, 404))["request_id"] == given


@pytest.mark.parametrize(
    "given", ["", "has space", "x" * 65, "<script>", "id\u00e9", "a/b", "line;break"]
)
async def test_an_invalid_request_id_is_replaced(client: TestClient[Any, Any], given: str) -> None:
    resp = await client.get("/nope", headers={"X-Request-Id": given})
    body = await assert_problem(resp, 404)
    assert resp.headers["X-Request-Id"] != given
    assert _GENERATED_ID.match(resp.headers["X-Request-Id"])
    assert body["request_id"] == resp.headers["X-Request-Id"]


async def test_request_ids_are_fresh_per_request(client: TestClient[Any, Any]) -> None:
    ids = {(await client.get("/livez")).headers["X-Request-Id"] for _ in range(5)}
    assert len(ids) == 5 and all(_GENERATED_ID.match(i) for i in ids)
