"""Fault switches shared by every emulator.

A fault applies to requests whose path ends with ``path`` (or to all when ``path`` is ``"*"``;
a ``path`` with another ``*`` is a glob over the whole path, e.g. ``"/wp-json/wp/v2/posts/*"``)
and whose method is ``method`` (``"*"`` = any) and query has every value of ``query`` (e.g.
``{"status": "any"}``), and fires ``times`` times (``None`` = until
cleared), after letting the first ``skip`` matching requests through untouched (e.g.
``skip=1``: the second page of a listing fails):

* ``latency_s`` -- sleep before handling;
* ``hang`` -- never answer (the client times out) and do **not** apply the request; a hung
  request is released (answered 503, still not applied) when the emulator shuts down, so test
  servers close promptly;
* ``status`` -- answer this HTTP status (e.g. 502) without applying the request;
* ``drop_after_apply`` -- apply the request, then drop the connection without an answer
  (the platform did it, the caller cannot know);
* ``after_apply_s`` -- apply the request, then wait before answering (the platform has done it
  while the caller still waits).

Several faults may be added in one call: ``{"faults": [{...}, {...}]}`` (a step that needs two
at once, e.g. a create applied and dropped *and* the lookup that would find it failing).

Set them in-process with :meth:`Faults.add` or over HTTP:
``POST /_emulator/faults`` ``{"path": "/cgi-bin/freepublish/submit", "drop_after_apply": true,
"times": 1}``; ``DELETE /_emulator/faults`` clears them; ``GET /_emulator/faults`` lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    path: str = "*"
    latency_s: float = 0.0
    hang: bool = False
    status: int | None = None
    drop_after_apply: bool = False
    times: int | None = None
    skip: int = 0
    method: str = "*"
    after_apply_s: float = 0.0
    query: dict[str, str] | None = None

    def matches(self, path: str, method: str = "", query: Mapping[str, str] | None = None) -> bool:
        if self.method != "*" and method and self.method.upper() != method.upper():
            return False
        if self.query and any((query or {}).get(k) != str(v) for k, v in self.query.items()):
            return False
        if self.path == "*":
            return True
        if "*" in self.path:
            return fnmatch.fnmatchcase(path, self.path)
        return path.endswith(self.path)


class Faults:
    """The active faults of one emulator and counters of what fired."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self.fired = 0
        self._closing: asyncio.Event | None = None

    @property
    def closing(self) -> asyncio.Event:
        """Set on application shutdown; hung requests wait for it."""
        if self._closing is None:
            self._closing = asyncio.Event()
        return self._closing

    def add(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def take(
        self, path: str, method: str = "", query: Mapping[str, str] | None = None
    ) -> Fault | None:
        """The first matching fault, consuming one of its ``times``."""
        for fault in self._faults:
            if fault.matches(path, method, query):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                self.fired += 1
                return fault
        return None

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self._faults]


FAULTS_KEY = web.AppKey("emulator_faults", Faults)


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_emulator/"):
        return await handler(request)
    fault = request.app[FAULTS_KEY].take(request.path, request.method, request.query)
    if fault is None:
        return await handler(request)
    if fault.latency_s:
        await asyncio.sleep(fault.latency_s)
    if fault.hang:
        closing = request.app[FAULTS_KEY].closing
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), timeout=3600)
        return web.Response(status=503, text="emulated hang released")
    if fault.status is not None:
        return web.Response(status=fault.status, text="emulated upstream failure")
    if fault.drop_after_apply:
        await handler(request)
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError()
    if fault.after_apply_s:
        response = await handler(request)
        await asyncio.sleep(fault.after_apply_s)
        return response
    return await handler(request)


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS_KEY].as_json())


async def _add_fault(request: web.Request) -> web.Response:
    body = await request.json()
    batch = body.get("faults") if isinstance(body, dict) and "faults" in body else None
    specs = batch if isinstance(batch, list) else [body]
    if not all(isinstance(spec, dict) for spec in specs):
        return web.json_response({"error": "a fault is a JSON object"}, status=400)
    faults = request.app[FAULTS_KEY]
    try:
        added = [Fault(**spec) for spec in specs]
    except TypeError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    for fault in added:
        faults.add(**asdict(fault))
    answer: Any = [asdict(f) for f in added] if batch is not None else asdict(added[0])
    return web.json_response(answer, status=201)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS_KEY].clear()
    return web.Response(status=204)


async def _release_hung(app: web.Application) -> None:
    app[FAULTS_KEY].closing.set()


def install(app: web.Application) -> Faults:
    """Give ``app`` fault switches and their control routes; call before the app starts."""
    faults = Faults()
    app[FAULTS_KEY] = faults
    app.middlewares.append(fault_middleware)
    app.on_shutdown.append(_release_hung)
    app.router.add_get("/_emulator/faults", _get_faults)
    app.router.add_post("/_emulator/faults", _add_fault)
    app.router.add_delete("/_emulator/faults", _clear_faults)
    return faults
