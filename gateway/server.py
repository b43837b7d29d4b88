"""The HTTP server the gateway runs on: aiohttp's, with one change at the edge.

aiohttp answers a request it cannot parse (a header line longer than 8,190 bytes, a broken
request line, a forbidden character) before any middleware runs: a ``text/plain`` body quoting
the offending bytes, and an error log line with the same quote. A too-long ``Authorization``
header would put the start of a credential into both. Here such a request gets a problem+json
answer that quotes nothing of what was sent, and a log line naming only the error's class.

:func:`serve` runs an application on it until SIGINT or SIGTERM (``run.py serve`` and
``run.py demo``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import signal
from collections.abc import Callable

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler

from gateway.errors import BadRequest
from gateway.middleware import PROBLEM_JSON

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


class _Protocol(RequestHandler):
    """aiohttp's per-connection handler with :meth:`handle_error` answering problem+json."""

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
    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose connections use :class:`_Protocol` (aiohttp has
    no public hook for the answer to an unparseable request, aio-libs/aiohttp#3287)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same server, connections made by __call__ above
        return server


async def serve(
    app: web.Application, host: str, port: int, *, started: Callable[[], None] | None = None
) -> None:
    """Run ``app`` on ``host:port`` until SIGINT or SIGTERM, then shut down cleanly."""
    runner = GatewayRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        if started is not None:
            started()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
