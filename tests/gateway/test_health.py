"""``/livez`` stays trivial, ``/healthz`` reports each part, ``/metrics`` is Prometheus text.

With the store unreachable the gateway fails closed: ``/healthz`` answers 503 naming Redis and a
state-changing request answers 503 ``store_unavailable``, quickly, with nothing done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.accounts import AccountRegistry
from gateway.app import Runtime
from gateway.appkeys import SERVICES
from gateway.keys import Keys
from tests.gateway.conftest import Caller, MakeClient

ANSWER_TIMEOUT_S = 10.0


@pytest.fixture
async def down_client(
    make_client: MakeClient, runtime: Runtime, tmp_path: Path
) -> TestClient[Any, Any]:
    """The app pointed at a unix socket nobody listens on."""
    dead = f"unix://{tmp_path}/no-such-dir/valkey.sock"
    return await make_client(runtime_=dataclasses.replace(runtime, redis_url=dead))


async def test_livez_is_trivial(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/livez")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}


async def test_livez_answers_even_when_the_store_is_down(
    down_client: TestClient[Any, Any],
) -> None:
    assert (await down_client.get("/livez")).status == 200


async def test_healthz_reports_every_part_when_all_is_well(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["status"] == "ok"
    for part in ("redis", "audit", "vault"):
        assert body["parts"][part]["ok"] is True, (part, body)


async def test_healthz_is_503_without_a_vault_key(make_client: MakeClient, redis_url: str) -> None:
    client = await make_client(
        runtime_=Runtime(redis_url=redis_url, master_key=None, vault_problem="no key here")
    )
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503 and body["status"] == "unavailable"
    assert body["parts"]["vault"] == {"ok": False, "error": "no key here"}
    assert body["parts"]["redis"]["ok"] is True


async def test_healthz_is_503_naming_redis_when_the_store_is_unreachable(
    down_client: TestClient[Any, Any],
) -> None:
    resp = await asyncio.wait_for(down_client.get("/healthz"), ANSWER_TIMEOUT_S)
    body = await resp.json()
    assert resp.status == 503, body
    assert body["status"] == "unavailable"
    assert body["parts"]["redis"]["ok"] is False
    assert body["parts"]["redis"]["error"]
    assert body["parts"]["audit"]["ok"] is False


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/admin/freeze", {"scope": "all", "reason": "drill"}),
        ("POST", "/v1/accounts", {"id": "a-b", "platform": "weibo", "name": "n", "unit": "hq"}),
        ("PUT", "/admin/vault/east-weibo", {"fields": {"app_secret": "s"}}),
        ("GET", "/v1/accounts", None),
    ],
)
async def test_requests_fail_closed_with_503_when_the_store_is_unreachable(
    down_client: TestClient[Any, Any],
    callers: dict[str, Caller],
    method: str,
    path: str,
    payload: Any,
) -> None:
    resp = await asyncio.wait_for(
        down_client.request(method, path, json=payload, headers=callers["admin"].headers),
        ANSWER_TIMEOUT_S,
    )
    assert resp.status == 503
    assert resp.content_type == "application/problem+json"
    body = await resp.json(content_type=None)
    assert body["reason"] == "store_unavailable"
    assert body["status"] == 503 and body["request_id"] == resp.headers["X-Request-Id"]
    assert "nothing was done" in body["detail"]


async def test_metrics_are_prometheus_text_with_request_counters(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    for _ in range(3):
        assert (await client.get("/livez")).status == 200
    assert (await client.get("/v1/accounts", headers=callers["editor"].headers)).status == 200
    assert (await client.get("/v1/accounts")).status == 401
    assert (await client.get("/no/such")).status == 404
    await client.get("/healthz")

    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    text = await resp.text()
    assert "# TYPE mediagate_http_requests_total counter" in text
    # prometheus-client (issue #11) writes sample values as floats; durations end in
    # _duration_seconds.
    assert 'mediagate_http_requests_total{method="GET",route="/livez",status="200"} 3.0' in text
    assert (
        'mediagate_http_requests_total{method="GET",route="/v1/accounts",status="200"} 1.0' in text
    )
    assert (
        'mediagate_http_requests_total{method="GET",route="/v1/accounts",status="401"} 1.0' in text
    )
    # Unmatched paths share one label so scanners cannot blow up the series count.
    assert 'route="/no/such"' not in text
    assert "# TYPE mediagate_http_request_duration_seconds histogram" in text
    assert re.search(r'mediagate_http_request_duration_seconds_count\{route="/livez"\} 3', text)
    assert 'mediagate_http_request_duration_seconds_bucket{le="+Inf",route="/livez"} 3.0' in text
    assert 'mediagate_dependency_up{part="redis"} 1.0' in text
    # Every sample line is "name{labels} value" or "name value".
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.match(r"^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$", line), line


# --- issue #11: /healthz was ok while connectors were not ---------------------------------------


async def _activate(redis: Any, platform: str) -> None:
    registry = AccountRegistry(redis, Keys())
    await registry.file(
        account_id=f"{platform}-1",
        platform=platform,
        name="账号",
        unit="hq",
        operators=[],
        settings={},
        filed_by="test",
    )
    await registry.decide(f"{platform}-1", approve=True, by="test")


async def test_an_unreachable_connector_an_account_uses_makes_healthz_503_naming_it(
    client: TestClient[Any, Any], redis: Any
) -> None:
    """Every connector points at a closed loopback port in the test settings."""
    await _activate(redis, "weibo")
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503, body
    assert body["status"] == "unavailable"
    assert body["failing"] == ["connector:weibo"]
    weibo = body["parts"]["connector:weibo"]
    assert weibo == {"ok": False, "reachable": False, "active_accounts": 1}


async def test_an_unreachable_connector_no_account_uses_is_reported_but_not_failing(
    client: TestClient[Any, Any],
) -> None:
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200, body
    assert "failing" not in body
    for name in ("wechat", "weibo", "wordpress", "webhook"):
        part = body["parts"][f"connector:{name}"]
        assert part["ok"] is True and part["reachable"] is False, (name, part)
        assert part["active_accounts"] == 0 and "no active account" in part["note"]


async def test_any_part_not_ok_makes_healthz_503_naming_it(
    make_client: MakeClient, runtime: Runtime
) -> None:
    """Not only a fixed list of parts: every registered part counts."""

    async def broken(app: web.Application) -> AsyncIterator[None]:
        app[SERVICES].health.info["delivery"] = lambda: {"ok": False, "error": "stopped"}
        yield

    client = await make_client(runtime_=dataclasses.replace(runtime, extra_contexts=(broken,)))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503, body
    assert body["failing"] == ["delivery"]
