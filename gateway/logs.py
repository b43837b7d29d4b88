"""Logging setup for the edge (text or JSON lines on stderr) and the access log.

Every record logged while a request is handled carries that request's id (a context variable
set by the ``request_id`` middleware): JSON lines as ``"request_id"``, text lines as
``[rid]``. The access log (logger ``mediagate.access``) writes one JSON object per request:
time, request id, method, path, route, status, duration, client address and the caller's key id.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

REQUEST_ID_VAR: ContextVar[str] = ContextVar("mediagate_request_id", default="")
access_log = logging.getLogger("mediagate.access")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID_VAR.get()
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "level": record.levelname,
            "logger": record.name,
        }
        rid = getattr(record, "request_id", "")
        if rid:
            data["request_id"] = rid
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            data.update(access)  # the access line's fields, not a JSON string inside JSON
        else:
            data["message"] = record.getMessage()
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", "")
        return line.replace(" [] ", " ", 1) if not rid else line


def log_access(fields: dict[str, Any]) -> None:
    """One access line: the fields as a JSON object (also the message, for text logs)."""
    if access_log.isEnabledFor(logging.INFO):
        access_log.info("%s", json.dumps(fields, ensure_ascii=False), extra={"access": fields})


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            _TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel("WARNING")  # mediagate.access replaces it
    logging.getLogger("jieba").setLevel("WARNING")
