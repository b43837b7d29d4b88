"""The route table as served: ``Allow`` on every 405 names the path's documented methods."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.routes import ROUTES
from tests.gateway.conftest import Caller

# The API's own routes; the drop-in proxy's (/proxy/…) answer in the platforms' envelopes instead
# (tests/gateway/proxy/).
PATHS: dict[str, set[str]] = defaultdict(set)
for _route in ROUTES:
    if _route.in_document:
        PATHS[_route.path].add(_route.method)
CONCRETE = {
    "{post_id}": "0123456789abcdef",
    "{account}": "east-weibo",
    "{category}": "advertising",
    "{key_id}": "0123456789abcdef",
    "{proposal_id}": "0123456789abcdef",
}


def _concrete(path: str) -> str:
    for name, value in CONCRETE.items():
        path = path.replace(name, value)
    return path


@pytest.mark.parametrize("path", sorted(PATHS))
async def test_every_405_carries_allow_with_the_documented_methods(
    client: TestClient[Any, Any], callers: dict[str, Caller], path: str
) -> None:
    documented = PATHS[path]
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"):
        if method in documented:
            continue
        resp = await client.request(method, _concrete(path), headers=callers["admin"].headers)
        if resp.status == 405:
            assert resp.headers["Allow"] == ", ".join(sorted(documented)), (method, path)
            body = await resp.json(content_type=None)
            assert resp.content_type == "application/problem+json"
            assert body["allowed"] == sorted(documented)
        else:
            # A parameterised sibling (/v1/posts/{post_id} beside /v1/posts/hash) took it.
            assert resp.status in (401, 403, 404, 422), (method, path, resp.status)


async def test_a_replayed_refusal_is_still_a_problem(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    headers = {**callers["editor"].headers, "Idempotency-Key": "once-1"}
    body = {"account": "no-such-account", "post": {"content": "x", "category": "news"}}
    first = await client.post("/v1/posts", json=body, headers=headers)
    again = await client.post("/v1/posts", json=body, headers=headers)
    assert first.status == again.status == 404
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.content_type == again.content_type == "application/problem+json"


@pytest.mark.parametrize("key", ["", "x" * 201, "键", "a b"], ids=["empty", "long", "cjk", "space"])
async def test_a_malformed_idempotency_key_is_named(
    client: TestClient[Any, Any], callers: dict[str, Caller], key: str
) -> None:
    resp = await client.post(
        "/v1/posts",
        json={"account": "east-weibo", "post": {"content": "x", "category": "news"}},
        headers={**callers["editor"].headers, "Idempotency-Key": key},
    )
    body = await resp.json(content_type=None)
    assert resp.status == 422 and body["errors"][0]["field"] == "Idempotency-Key", body
