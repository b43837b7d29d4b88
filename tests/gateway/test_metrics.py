"""``/metrics`` is prometheus-client's exposition: process and build info, ``_duration_seconds``."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

import gateway
from gateway.metrics import Metrics


async def test_metrics_carry_process_and_build_info(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/livez")).status == 200
    text = await (await client.get("/metrics")).text()
    assert re.search(r"^process_resident_memory_bytes \d", text, re.M)
    assert re.search(r"^process_cpu_seconds_total \d", text, re.M)
    assert re.search(r'^python_info\{.*version="3\.', text, re.M)
    build = re.search(r"^mediagate_build_info\{(.*)\} 1\.0$", text, re.M)
    assert build and f'version="{gateway.__version__}"' in build[1]
    # Every duration is in seconds and named so; no other latency series exists.
    assert "mediagate_http_request_duration_seconds_bucket" in text
    assert "mediagate_http_request_seconds" not in text


def test_each_app_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.requests.inc("GET", "/livez", "200")
    assert 'route="/livez"' in first.render()
    assert 'route="/livez"' not in second.render()
