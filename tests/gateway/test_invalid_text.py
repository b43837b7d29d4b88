"""Text that is not valid Unicode gets 400 naming the field, on every route (issue #11 item 4).

A JSON string may carry a lone surrogate (``"\\ud800"``): valid JSON, but no UTF-8 encoding
exists, so anything that later encodes it (Redis, hashing, the audit log) used to answer 500. The
same holds for path segments, query parameters and read headers carrying bytes that are not
UTF-8. The tables iterate over :data:`gateway.routes.ROUTES`, so a new route is covered the day
it is added.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.routes import ROUTES, Route
from tests.gateway.conftest import Caller
from tests.gateway.test_bad_input import (
    ACCOUNT,
    PARAMS,
    WITH_BODY,
    _caller_for,
    _path,
    _send,
    _unresolved,
    ready,  # noqa: F401 - a fixture used by name
)

# (case, raw JSON body, the field the answer must name)
SURROGATE_BODIES: list[tuple[str, bytes, str]] = [
    ("in a nested value", b'{"post": {"title": "ok \\ud800"}}', "post.title"),
    ("upper-case escape", b'{"post": {"content": "\\uDFFF"}}', "post.content"),
    ("low surrogate alone", b'{"reason": "x\\udc00y"}', "reason"),
    ("in a list item", b'{"accounts": ["east-weibo", "\\ud83d"]}', "accounts[1]"),
    ("in a key", b'{"\\ud800": 1}', "\\ud800"),
    ("in a nested key", b'{"fields": {"a\\udbff": "v"}}', "fields.a\\udbff"),
    ("reversed pair", b'{"name": "\\ude00\\ud83d"}', "name"),
    ("deep in a map", b'{"settings": {"k": ["a", {"z": "\\ud800"}]}}', "settings.k[1].z"),
]

# Valid pairs and escaped backslashes are text, not surrogates: they pass this check.
VALID_LOOKALIKES: list[bytes] = [
    b'{"post": {"title": "\\ud83d\\ude00"}}',  # U+1F600 as a pair
    b'{"post": {"title": "\\\\ud800"}}',  # a backslash followed by "ud800"
]


async def _raw(client: TestClient[Any, Any], head: bytes) -> tuple[int, bytes]:
    """Send raw request bytes (headers that are not UTF-8 cannot be sent any other way)."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), 5.0)
    finally:
        writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("route", WITH_BODY, ids=lambda r: f"{r.method} {r.path}")
async def test_lone_surrogates_in_bodies_answer_400_naming_the_field(
    ready: TestClient[Any, Any],  # noqa: F811 - the fixture
    callers: dict[str, Caller],
    route: Route,
) -> None:
    caller = _caller_for(route, callers)
    for case, raw, field in SURROGATE_BODIES:
        status, body = await _send(ready, route.method, _path(route), caller, data=raw)
        if status == 404 and _unresolved(route):
            continue
        assert status == 400, (case, body)
        assert body["errors"][0]["field"] == field, (case, body)
        assert "Unicode" in body["detail"], (case, body)


@pytest.mark.parametrize("raw", VALID_LOOKALIKES)
async def test_surrogate_pairs_and_escaped_backslashes_are_text(
    ready: TestClient[Any, Any],  # noqa: F811 - the fixture
    callers: dict[str, Caller],
    raw: bytes,
) -> None:
    resp = await ready.post(
        "/v1/posts/hash",
        data=raw.replace(b"}}", b', "content": "x", "category": "news"}}'),
        headers={**callers["editor"].headers, "Content-Type": "application/json"},
    )
    assert resp.status == 200, await resp.text()


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_query_parameters_that_are_not_utf8_answer_400_naming_them(
    ready: TestClient[Any, Any],  # noqa: F811 - the fixture
    callers: dict[str, Caller],
    route: Route,
) -> None:
    caller = _caller_for(route, callers) if route.roles else None
    for query, field in (("state=%ED%A0%80", "state"), ("limit=1&week=%FF", "week")):
        path = f"{_path(route)}?{query}"
        resp = await ready.request(
            route.method, path, headers=caller.headers if caller else {}, skip_auto_headers=()
        )
        body = await resp.json(content_type=None)
        assert resp.status == 400, (path, body)
        assert body["errors"][0]["field"] == field, (path, body)


@pytest.mark.parametrize(
    "route",
    [r for r in ROUTES if r.in_document and re.search(r"{\w+}", r.path)],
    ids=lambda r: f"{r.method} {r.path}",
)
async def test_path_parameters_that_are_not_utf8_answer_400_naming_them(
    ready: TestClient[Any, Any],  # noqa: F811 - the fixture
    callers: dict[str, Caller],
    route: Route,
) -> None:
    caller = _caller_for(route, callers)
    name = re.findall(r"{(\w+)}", route.path)[0]
    path = re.sub(r"{(\w+)}", lambda m: "%ED%A0%80" if m[1] == name else PARAMS[m[1]], route.path)
    head = (
        f"{route.method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {caller.key}\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    status, body = await _raw(ready, head)
    assert status == 400, body
    assert f'"field": "{name}"' in body.decode(), body


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.roles], ids=lambda r: f"{r.method} {r.path}"
)
async def test_read_headers_that_are_not_utf8_answer_400_naming_them(
    ready: TestClient[Any, Any],  # noqa: F811 - the fixture
    callers: dict[str, Caller],
    route: Route,
) -> None:
    caller = _caller_for(route, callers)
    path = _path(route).encode()
    for header, value in (
        (b"Authorization", b"Bearer " + caller.key.encode() + b"\xff"),
        (b"Authorization", b"Bearer mg_abc_\xed\xa0\x80"),
        (b"Idempotency-Key", b"k-\xfe"),
        (b"Content-Type", b"application/json; x=\xff"),
    ):
        head = b"%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % (
            route.method.encode(),
            path,
        )
        if header != b"Authorization":
            head += b"Authorization: Bearer " + caller.key.encode() + b"\r\n"
        head += header + b": " + value + b"\r\nContent-Length: 2\r\n\r\n{}"
        status, body = await _raw(ready, head)
        assert status == 400, (header, body)
        assert f'"field": "{header.decode()}"'.encode() in body, (header, body)


async def test_an_account_named_with_a_surrogate_never_reaches_the_store(
    ready: TestClient[Any, Any],  # noqa: F811 - the fixture
    callers: dict[str, Caller],
) -> None:
    """The representative 500 of the issue: vault PUT for an account id the body names."""
    status, body = await _send(
        ready,
        "PUT",
        f"/admin/vault/{ACCOUNT}",
        callers["admin"],
        data=b'{"fields": {"app_secret": "s\\ud800"}}',
    )
    assert status == 400 and body["errors"][0]["field"] == "fields.app_secret", body


@pytest.mark.parametrize(
    "path", ["/proxy/wechat/cgi-bin/%ED%A0%80", "/proxy/weibo/2/statuses/%ED%A0%80.json"]
)
async def test_the_proxy_refuses_paths_that_are_not_utf8_without_a_server_error(
    ready: TestClient[Any, Any],  # noqa: F811 - the fixture
    path: str,
) -> None:
    # The proxy's routes speak the platforms' envelopes, but invalid text is refused all the same.
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    status, body = await _raw(ready, head.encode())
    assert 400 <= status < 500, body
