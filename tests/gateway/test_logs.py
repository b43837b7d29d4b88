"""The JSON access log: one line per request, each carrying the request id (issue #11)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.logs import REQUEST_ID_VAR, _JsonFormatter, _RequestIdFilter
from tests.gateway.conftest import Caller


@pytest.fixture
def json_lines() -> Any:
    """Records formatted by the gateway's JSON formatter, as the edge installs it."""
    lines: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = _Keep()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def test_every_request_writes_one_json_access_line_with_its_request_id(
    client: TestClient[Any, Any], callers: dict[str, Caller], json_lines: list[str]
) -> None:
    editor = callers["editor"]
    await client.get("/v1/accounts", headers={**editor.headers, "X-Request-Id": "req-1"})
    refused = await client.post("/admin/freeze", json={}, headers=editor.headers)
    missing = await client.get("/no/such/thing")
    access = [json.loads(line) for line in json_lines if '"event": "access"' in line]
    by_id = {a["request_id"]: a for a in access}
    assert by_id["req-1"]["status"] == 200 and by_id["req-1"]["key_id"] == editor.id
    assert by_id["req-1"]["route"] == "/v1/accounts" and by_id["req-1"]["duration_ms"] >= 0
    assert by_id[refused.headers["X-Request-Id"]]["status"] == 403
    assert by_id[missing.headers["X-Request-Id"]]["status"] == 404
    assert len(access) == 3
    for line in access:
        assert "message" not in line  # fields, not a JSON string inside JSON
        assert editor.key not in json.dumps(line)


def test_any_line_logged_while_a_request_runs_carries_its_id(json_lines: list[str]) -> None:
    token = REQUEST_ID_VAR.set("drill-7")
    try:
        logging.getLogger("gateway.test").warning("store slow: %s ms", 900)
    finally:
        REQUEST_ID_VAR.reset(token)
    logging.getLogger("gateway.test").warning("outside any request")
    inside, outside = (json.loads(line) for line in json_lines[-2:])
    assert inside["request_id"] == "drill-7" and inside["message"] == "store slow: 900 ms"
    assert "request_id" not in outside
