"""The OpenAPI document served at ``/openapi.json`` is true to the running app.

It lists exactly the routes the router has, each protected one with ``security`` and
``x-roles`` equal to the route's declared roles; every ``$ref`` resolves; every route with a body
names a request schema that exists. New routes in :data:`gateway.routes.ROUTES` are covered
without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway import openapi
from gateway.api import health
from gateway.openapi import openapi_document
from gateway.routes import ROUTES, UNDOCUMENTED_PREFIXES, Route

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
async def document(client: TestClient[Any, Any]) -> dict[str, Any]:
    resp = await client.get("/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    doc: dict[str, Any] = await resp.json()
    return doc


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external $ref {ref!r}"
    node: Any = doc
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"$ref {ref!r} does not resolve"
        node = node[part]
    return node


async def test_the_document_lists_exactly_the_routes_the_router_has(
    client: TestClient[Any, Any], document: dict[str, Any]
) -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        # HEAD is implied by GET for clients; "*" routes are not part of the API.
        if route.resource is not None and route.method not in ("HEAD", "*")
        # the web console (gateway/console/) is pages for people, and the drop-in proxy
        # (gateway/proxy/) speaks the platforms' APIs: neither is part of this API's document
        if not route.resource.canonical.startswith((*UNDOCUMENTED_PREFIXES, "/console"))
    }
    documented = {(method, path) for method, path, _op in _operations(document)}
    assert documented == served
    assert served == {(r.method, r.path) for r in ROUTES if r.in_document}


@pytest.mark.parametrize(
    ("path", "documented", "in_document"),
    [
        ("/proxy/cgi-bin/draft/add", True, False),  # WeChat's shapes, not this API
        ("/proxy/2/statuses/share.json", True, False),  # Weibo's
        ("/console/inbox", True, False),
        ("/proxy", True, True),  # only what lies under the prefix
        ("/v1/proxy/x", True, True),
        ("/v1/internal", False, False),
    ],
)
def test_routes_of_other_apis_are_left_out_of_the_document(
    monkeypatch: pytest.MonkeyPatch, path: str, documented: bool, in_document: bool
) -> None:
    extra = Route("POST", path, health.livez, None, "not this API", documented=documented)
    assert extra.in_document is in_document
    monkeypatch.setattr("gateway.routes.ROUTES", [*ROUTES, extra])
    openapi._document.cache_clear()
    try:
        assert (path in openapi_document()["paths"]) is in_document
    finally:
        openapi._document.cache_clear()


def test_documented_api_routes_name_their_operation_and_answer() -> None:
    for route in ROUTES:
        if route.in_document and route.media == "application/json" and route.roles:
            assert route.op_id and route.answer, route.path


def _route_ids(route: Route) -> str:
    return f"{route.method} {route.path}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.in_document], ids=_route_ids)
def test_each_operation_declares_the_routes_roles(route: Route) -> None:
    op = openapi_document()["paths"][route.path][route.method.lower()]
    if route.roles is None:
        assert "security" not in op and "x-roles" not in op
    else:
        assert op["security"] == [{"bearer": []}]
        assert op["x-roles"] == sorted(route.roles)
    assert op["summary"] == route.summary
    params = re.findall(r"{(\w+)}", route.path)
    in_path = [p for p in op.get("parameters", []) if p["in"] == "path"]
    assert [p["name"] for p in in_path] == params
    assert all(p["required"] for p in in_path)


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.request and r.in_document], ids=_route_ids
)
def test_routes_with_bodies_name_a_request_schema_that_exists(route: Route) -> None:
    doc = openapi_document()
    op = doc["paths"][route.path][route.method.lower()]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{route.request}"}
    resolved = _resolve(doc, schema["$ref"])
    assert resolved.get("type") == "object"


def test_routes_without_bodies_declare_none() -> None:
    doc = openapi_document()
    for route in ROUTES:
        if not route.request and route.in_document:
            assert "requestBody" not in doc["paths"][route.path][route.method.lower()]


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs = set(_refs(document))
    assert refs, "the document has no $ref at all"
    for ref in refs:
        _resolve(document, ref)


def test_operation_ids_are_unique_and_errors_are_problems(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _m, _p, op in _operations(document)]
    assert len(ids) == len(set(ids))
    for _method, _path, op in _operations(document):
        default = op["responses"]["default"]["content"]["application/problem+json"]["schema"]
        assert _resolve(document, default["$ref"])["required"] == [
            "type",
            "title",
            "status",
            "detail",
        ]


def test_security_schemes_and_header(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert document["info"]["title"] == "mediagate"


def test_the_document_is_valid_openapi() -> None:
    """Checked by an independent validator (a test dependency)."""
    from openapi_spec_validator import validate

    validate(openapi_document())
