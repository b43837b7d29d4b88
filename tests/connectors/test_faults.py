"""The shared emulator fault switches on a tiny real app."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.emulators import faults


def _app() -> tuple[web.Application, list[str]]:
    applied: list[str] = []

    async def apply(request: web.Request) -> web.Response:
        applied.append(request.path)
        return web.json_response({"ok": True})

    app = web.Application()
    faults.install(app)
    app.router.add_post("/api/thing", apply)
    return app, applied


async def test_status_latency_and_times(aiohttp_client: Any) -> None:
    app, applied = _app()
    client = await aiohttp_client(app)
    resp = await client.post(
        "/_emulator/faults", json={"path": "/thing", "status": 502, "times": 2}
    )
    assert resp.status == 201
    assert [(await client.post("/api/thing")).status for _ in range(3)] == [502, 502, 200]
    assert applied == ["/api/thing"]
    assert app[faults.FAULTS_KEY].fired == 2
    assert await (await client.get("/_emulator/faults")).json() == []
    app[faults.FAULTS_KEY].add(path="*", latency_s=0.05, times=1)
    started = asyncio.get_running_loop().time()
    assert (await client.post("/api/thing")).status == 200
    assert asyncio.get_running_loop().time() - started >= 0.05


async def test_unknown_fault_field_is_rejected(aiohttp_client: Any) -> None:
    app, _ = _app()
    client = await aiohttp_client(app)
    resp = await client.post("/_emulator/faults", json={"path": "*", "explode": True})
    assert resp.status == 400


async def test_hang_times_out_without_applying_and_is_released_on_close(
    aiohttp_server: Any,
) -> None:
    app, applied = _app()
    server = await aiohttp_server(app)
    app[faults.FAULTS_KEY].add(path="/thing", hang=True)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(TimeoutError):
            await session.post(
                server.make_url("/api/thing"), timeout=aiohttp.ClientTimeout(total=0.2)
            )
    assert applied == []
    started = asyncio.get_running_loop().time()
    await server.close()
    assert asyncio.get_running_loop().time() - started < 5.0


async def test_drop_after_apply_applies_then_drops(aiohttp_client: Any) -> None:
    app, applied = _app()
    client = await aiohttp_client(app)
    await client.post("/_emulator/faults", json={"path": "/thing", "drop_after_apply": True})
    with pytest.raises(aiohttp.ClientError):
        await client.post("/api/thing")
    assert applied == ["/api/thing"]
    assert (await client.delete("/_emulator/faults")).status == 204
    assert (await client.post("/api/thing")).status == 200


def _app_with_reads() -> tuple[web.Application, list[str]]:
    app, applied = _app()

    async def read(request: web.Request) -> web.Response:
        applied.append(f"GET {request.path_qs}")
        return web.json_response({"ok": True})

    app.router.add_get("/api/thing", read)
    app.router.add_get("/api/thing/{id}", read)
    return app, applied


# (fault, requests as (method, path), statuses expected) -- the listing's switches
SELECTORS = [
    ("skip", {"path": "/thing", "status": 502, "skip": 1, "times": 1},
     [("GET", "/api/thing"), ("GET", "/api/thing"), ("GET", "/api/thing")], [200, 502, 200]),
    ("method", {"path": "/thing", "method": "POST", "status": 503},
     [("GET", "/api/thing"), ("POST", "/api/thing")], [200, 503]),
    ("glob", {"path": "/api/thing/*", "status": 500},
     [("GET", "/api/thing"), ("GET", "/api/thing/7")], [200, 500]),
    ("query", {"path": "/thing", "query": {"status": "any"}, "status": 502},
     [("GET", "/api/thing?status=publish"), ("GET", "/api/thing?status=any&x=1")], [200, 502]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "fault", "requests", "statuses"), SELECTORS, ids=[s[0] for s in SELECTORS]
)
async def test_fault_selectors(
    aiohttp_client: Any,
    name: str,
    fault: dict[str, Any],
    requests: list[tuple[str, str]],
    statuses: list[int],
) -> None:
    app, _applied = _app_with_reads()
    client = await aiohttp_client(app)
    assert (await client.post("/_emulator/faults", json=fault)).status == 201
    assert [(await client.request(m, p)).status for m, p in requests] == statuses, name


async def test_batch_of_faults_and_a_late_answer_after_applying(aiohttp_client: Any) -> None:
    app, applied = _app_with_reads()
    client = await aiohttp_client(app)
    batch = {
        "faults": [
            {"path": "/api/thing", "method": "POST", "after_apply_s": 0.3, "times": 1},
            {"path": "/api/thing", "method": "GET", "status": 502, "times": 1},
        ]
    }
    resp = await client.post("/_emulator/faults", json=batch)
    assert resp.status == 201 and len(await resp.json()) == 2
    post = asyncio.ensure_future(client.post("/api/thing"))
    await asyncio.sleep(0.1)
    assert applied == ["/api/thing"] and not post.done()  # applied, not answered yet
    assert (await post).status == 200
    assert (await client.get("/api/thing")).status == 502
    bad = await client.post("/_emulator/faults", json={"faults": [{"nope": 1}]})
    assert bad.status == 400 and await (await client.get("/_emulator/faults")).json() == []
