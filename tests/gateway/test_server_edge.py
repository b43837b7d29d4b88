"""Requests aiohttp cannot parse get problem+json that quotes nothing of what was sent.

aiohttp rejects them before any middleware runs; out of the box it answers ``text/plain`` with the
offending bytes quoted, and logs the same quote, so a too-long ``Authorization`` header would put
the start of a credential into the answer and the log. These tests drive the runner ``run.py
serve`` uses over a real socket with raw bytes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.server import GatewayRunner
from gateway.settings import Settings

SECRET = "LEAKCANARY-7c1e-口令-" + "k" * 40


@pytest.fixture
async def port(settings: Settings, runtime: Runtime) -> AsyncIterator[int]:
    runner = GatewayRunner(create_app(settings, runtime))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host_port: Any = runner.addresses[0]
    try:
        yield int(host_port[1])
    finally:
        await runner.cleanup()


async def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _get(extra_headers: str = "", target: str = "/livez") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: gw\r\n{extra_headers}\r\n".encode()


MALFORMED = [
    # (case, raw request, the field the answer must name)
    (
        "Authorization header over 8 KiB",
        _get(f"Authorization: Bearer {SECRET * 200}\r\n"),
        "headers",
    ),
    ("other header over 8 KiB", _get(f"X-Note: {SECRET * 200}\r\n"), "headers"),
    ("request target over 8 KiB", _get(target="/livez?q=LEAKCANARY" + "k" * 9000), "headers"),
    (
        "control character in a header value",
        _get(f"Authorization: Bearer {SECRET}\x01\r\n"),
        "headers",
    ),
    ("space inside a header name", _get(f"Author ization: {SECRET}\r\n"), "headers"),
    ("200 headers", _get("".join(f"X-{i}: LEAKCANARY\r\n" for i in range(200))), "headers"),
    ("not HTTP at all", f"{SECRET}\r\n\r\n".encode(), "request line"),
    ("unknown HTTP version", b"GET /livez?LEAKCANARY HTTP/7.3\r\nHost: gw\r\n\r\n", "request line"),
    ("raw UTF-8 in the request target", _get(target="/livez?" + SECRET), "request line"),
]


@pytest.mark.parametrize(("case", "raw", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_unparseable_request_gets_problem_json_without_the_bytes_sent(
    port: int, caplog: pytest.LogCaptureFixture, case: str, raw: bytes, field: str
) -> None:
    caplog.set_level(logging.DEBUG)
    status, headers, body = await _raw(port, raw)
    assert status == 400, case
    assert headers["content-type"].startswith("application/problem+json"), case
    problem = json.loads(body)
    assert problem["status"] == 400
    assert problem["field"] == field, problem
    assert problem["detail"].startswith(field + ":")
    assert headers["x-request-id"] == problem["request_id"]
    assert "LEAKCANARY" not in body.decode("utf-8", "replace")
    logged = "\n".join(
        r.getMessage() + str(r.exc_info or "") + str(r.exc_text or "") for r in caplog.records
    )
    assert "LEAKCANARY" not in logged
    assert problem["request_id"] in logged  # the log line and the answer can be matched


async def test_well_formed_requests_still_reach_the_middleware_chain(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/livez") as resp:
            assert resp.status == 200
        async with session.get(
            f"http://127.0.0.1:{port}/v1/nothing-here",
            headers={"Authorization": "Bearer " + "x" * 4000},
        ) as resp:
            assert resp.status in (401, 404)
            assert resp.content_type == "application/problem+json"
            assert "X-Request-Id" in resp.headers


# --- slow clients (issue #11): bounded time for the head and the body -------------------------

SLOW_LIMIT_S = 0.5


@pytest.fixture
async def slow_port(settings: Settings, runtime: Runtime) -> AsyncIterator[int]:
    limits = dataclasses.replace(
        settings.limits, header_timeout_s=SLOW_LIMIT_S, body_timeout_s=SLOW_LIMIT_S
    )
    runner = GatewayRunner(create_app(dataclasses.replace(settings, limits=limits), runtime))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host_port: Any = runner.addresses[0]
    try:
        yield int(host_port[1])
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connected, nothing sent
        b"GET /livez HT",  # an unfinished request line
        b"GET /livez HTTP/1.1\r\nHost: gw\r\nX-Slow: 1",  # an unfinished header line
    ],
    ids=["nothing", "request-line", "header-line"],
)
async def test_a_head_that_does_not_arrive_in_time_gets_408_and_is_closed(
    slow_port: int, sent: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", slow_port)
    started = time.monotonic()
    writer.write(sent)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=10)  # EOF: the server closed it
    elapsed = time.monotonic() - started
    writer.close()
    assert SLOW_LIMIT_S * 0.8 <= elapsed < 5, elapsed
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), data
    assert b"application/problem+json" in head
    problem = json.loads(body)
    assert problem["status"] == 408 and problem["field"] == "headers"


async def test_a_trickled_head_is_still_bounded(slow_port: int) -> None:
    """A byte every so often does not reset the clock (the slowloris pattern)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", slow_port)
    started = time.monotonic()
    data = b""
    for byte in b"GET /livez HTTP/1.1\r\nHost: gw\r\nX-Slow: " + b"z" * 100:
        writer.write(bytes([byte]))
        await writer.drain()
        try:  # wait a while before the next byte, reading whatever the server says
            data = await asyncio.wait_for(reader.read(), timeout=SLOW_LIMIT_S / 5)
            break  # the server answered and closed
        except TimeoutError:
            continue
    elapsed = time.monotonic() - started
    writer.close()
    assert elapsed < 5, "a byte at a time kept the connection open"
    assert data.startswith(b"HTTP/1.1 408 "), data


async def test_a_body_that_does_not_arrive_in_time_closes_the_connection(slow_port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", slow_port)
    started = time.monotonic()
    writer.write(
        b"POST /v1/screen HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"post": '
    )
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    assert time.monotonic() - started < 5
    assert not data.startswith(b"HTTP/1.1 2"), data


async def test_a_prompt_client_on_a_kept_alive_connection_is_not_cut_off(slow_port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", slow_port)
    for _ in range(3):
        writer.write(_get())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        assert status_line.startswith(b"HTTP/1.1 200"), status_line
        length = 0
        while (line := await reader.readline()) != b"\r\n":
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        await asyncio.sleep(SLOW_LIMIT_S * 1.5)  # idle between requests: keep-alive's business
    writer.close()
