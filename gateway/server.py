"""The HTTP server the gateway runs on: aiohttp's, with one change at the edge.

aiohttp answers a request it cannot parse (a header line longer than 8,190 bytes, a broken
request line, a forbidden character) before any middleware runs: a ``text/plain`` body quoting
the offending bytes, and an error log line with the same quote. A too-long ``Authorization``
header would put the start of a credential into both. Here such a request gets a problem+json
answer that quotes nothing of what was sent, and a log line naming only the error's class.

Slow clients get bounded time (``limits.header_timeout_s`` for a request's line and headers,
``limits.body_timeout_s`` for its body): a connection that trickles a header line, or a body, is
answered 408 (headers) or closed (body) instead of being held open for ever.

:func:`bind` takes the port before anything slow happens (a port in use is reported at once);
:func:`serve` runs an application on that socket until SIGINT or SIGTERM (``mediagate serve`` and
``mediagate demo``), calling :class:`ServeHooks` as it starts, listens and stops.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import re
import secrets
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import http_exceptions, web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from gateway.appkeys import SETTINGS
from gateway.errors import BadRequest, GatewayError
from gateway.middleware import PROBLEM_JSON
from gateway.processes import SharedSocketSite, Worker

log = logging.getLogger(__name__)


#: aiohttp's reason for a parse error is the first line of its message when that line is plain
#: words ("Invalid header value char"); the lines after it, or the same line in some errors, quote
#: the bytes received, and are never used.
_REASON_RE = re.compile(r"[A-Za-z ]{3,60}")


def _parse_problem(exc: BaseException | None, status: int, limit: int) -> dict[str, object]:
    """The problem+json body for a request that could not be parsed (nothing of it quoted)."""
    if isinstance(exc, http_exceptions.LineTooLong):
        field, reason = "headers", f"the request line or a header is longer than {limit} bytes"
    else:
        first = str(getattr(exc, "message", "")).split("\n", 1)[0].rstrip(":")
        reason = first if _REASON_RE.fullmatch(first) else "not valid HTTP/1.1"
        if isinstance(exc, (http_exceptions.BadStatusLine, http_exceptions.InvalidURLError)):
            field = "request line"
        elif "header" in reason.lower():
            field = "headers"
        else:
            field = "request"
    body = BadRequest(f"{field}: {reason}", field=field).to_problem()
    body["status"] = status
    return body


class _RequestTimeout(GatewayError):
    status, slug, title = 408, "request-timeout", "Request timeout"


class _Protocol(RequestHandler):
    """aiohttp's per-connection handler with :meth:`handle_error` answering problem+json and
    deadlines for a request's head and body (aiohttp has neither)."""

    head_timeout_s = 10.0
    body_timeout_s = 30.0
    _read_timer: asyncio.TimerHandle | None = None
    _body: StreamReader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm(self.head_timeout_s, self._head_late)

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._force_close or self._close:
            self._disarm()
        elif self._request_count > heads:  # a request line and its headers are complete
            payload = self._messages[-1][1] if self._messages else None
            if isinstance(payload, StreamReader) and not payload.is_eof():
                self._body = payload
                self._arm(self.body_timeout_s, self._body_late)
            else:
                self._disarm()
        elif self._body is not None:
            if self._body.is_eof():
                self._disarm()
        elif self._read_timer is None and data:  # the first bytes of the next request
            self._arm(self.head_timeout_s, self._head_late)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, delay_s: float, late: Callable[[], None]) -> None:
        self._disarm_timer()
        if delay_s > 0:
            self._read_timer = self._loop.call_later(delay_s, late)

    def _disarm_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _disarm(self) -> None:
        self._disarm_timer()
        self._body = None

    def _peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return str(peer[0]) if isinstance(peer, tuple) else "?"

    def _head_late(self) -> None:
        self._read_timer = None
        if self.transport is None or self._force_close:
            return
        if self._current_request is not None:  # a pipelined head behind a running request
            self._arm(self.head_timeout_s, self._head_late)
            return
        log.warning(
            "closed a connection from %s: request line and headers not complete within %s s",
            self._peer(),
            self.head_timeout_s,
        )
        problem = _RequestTimeout(
            f"headers: the request line and headers did not arrive within {self.head_timeout_s} s",
            field="headers",
        ).to_problem()
        body = json.dumps(problem).encode()
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\n"
            + f"Content-Type: {PROBLEM_JSON}; charset=utf-8\r\n".encode()
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        self.force_close()

    def _body_late(self) -> None:
        self._read_timer = None
        if self.transport is None or self._force_close:
            return
        log.warning(
            "closed a connection from %s: request body not complete within %s s",
            self._peer(),
            self.body_timeout_s,
        )
        self._body = None
        self.force_close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Called for requests aiohttp could not parse (4xx) and for errors outside the
        middleware chain (500). ``message`` quotes what the client sent and is never used."""
        if status >= 500:
            # not the client's bytes but our failure: aiohttp's own logging, with traceback
            return super().handle_error(request, status, exc, "internal error")
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error")
        request_id = secrets.token_hex(8)
        log.warning(
            "unparseable HTTP request from %s rejected with %d: %s (request %s)",
            request.remote,
            status,
            type(exc).__name__ if exc is not None else "unknown",
            request_id,
        )
        body = _parse_problem(exc, status, self.max_field_size)
        body["request_id"] = request_id
        resp = web.Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type=PROBLEM_JSON,
            charset="utf-8",
            headers={"X-Request-Id": request_id},
        )
        resp.force_close()
        return resp


class _Server(web.Server):
    head_timeout_s = _Protocol.head_timeout_s
    body_timeout_s = _Protocol.body_timeout_s

    def __call__(self) -> RequestHandler:
        protocol = _Protocol(self, loop=self._loop, **self._kwargs)
        protocol.head_timeout_s = self.head_timeout_s
        protocol.body_timeout_s = self.body_timeout_s
        return protocol


class GatewayRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose connections use :class:`_Protocol` (aiohttp has
    no public hook for the answer to an unparseable request, aio-libs/aiohttp#3287, nor read
    timeouts); the timeouts come from the app's ``limits`` settings."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same server, connections made by __call__ above
        app = self.app
        if SETTINGS in app:
            limits = app[SETTINGS].limits
            server.head_timeout_s = limits.header_timeout_s  # type: ignore[attr-defined]
            server.body_timeout_s = limits.body_timeout_s  # type: ignore[attr-defined]
        return server


class PortInUse(OSError):
    """The address to listen on is taken (or not allowed); the message says which."""


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (not yet listening: connections are refused, not queued,
    until the gateway is ready); :class:`PortInUse` when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise PortInUse(
            f"cannot listen on {host}:{port}: {reason} (another mediagate? choose --port)"
        ) from None
    return sock


def base_url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket: the port it really has (``--port 0`` lets the
    kernel choose one)."""
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _nothing(*_args: object) -> None:
    return None


@dataclass(frozen=True)
class ServeHooks:
    """What :func:`serve` tells its caller (the CLI prints progress lines from these)."""

    starting: Callable[[], None] = _nothing  # before the app's start-up (the slow part)
    started: Callable[[str], None] = _nothing  # listening; gets the base URL
    stopping: Callable[[str], None] = _nothing  # a stop signal arrived; gets its name


async def serve(
    app: web.Application,
    sock: socket.socket,
    *,
    hooks: ServeHooks | None = None,
    worker: Worker | None = None,
) -> None:
    """Run ``app`` on the bound ``sock`` until SIGINT or SIGTERM, then shut down cleanly.
    ``worker``: this is one of several processes accepting on ``sock`` (gateway/processes.py)."""
    hooks = hooks or ServeHooks()
    runner = GatewayRunner(app)
    hooks.starting()
    try:
        await runner.setup()  # the app's start-up: a part that cannot load raises here
        site: web.BaseSite = (
            web.SockSite(runner, sock) if worker is None else SharedSocketSite(runner, sock, worker)
        )
        await site.start()
        hooks.started(base_url(sock))
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[str] = loop.create_future()

        def stop(name: str) -> None:
            if not stopped.done():
                stopped.set_result(name)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig.name)
        hooks.stopping(await stopped)
    finally:
        await runner.cleanup()
