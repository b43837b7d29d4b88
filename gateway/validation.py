"""Bounded request bodies and field validation that names the field.

``read_json`` enforces the body limit, strict UTF-8, the JSON depth limit and rejects duplicate
keys; the ``take_*`` helpers check one field each and raise :class:`ValidationFailed` with the
field's dotted path (``post.images[2].data``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from gateway.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    field_error,
)

_MISSING = object()
_INLINE_PARSE_BYTES = 64 * 1024  # larger bodies are parsed in a worker thread
# A lone surrogate reaches a parsed string only through a \\uD800-\\uDFFF escape (raw bytes
# of one fail the UTF-8 decode), so the walk for one runs only when such an escape is present.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE_RE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` safe to print and encode: lone surrogates shown as ``\\udXXX`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def invalid_text_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) in ``value`` that is not valid Unicode text
    (a lone surrogate: valid JSON, but not encodable as UTF-8), or None."""
    if isinstance(value, str):
        return path if SURROGATE_RE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{printable(key)}" if path else printable(key)
            if SURROGATE_RE.search(key):
                return where
            found = invalid_text_at(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = invalid_text_at(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def invalid_text(field: str) -> BadRequest:
    """400 naming ``field``: its text is not valid Unicode (a lone surrogate or bad bytes)."""
    return BadRequest(
        f"{field}: not valid Unicode text (a lone surrogate or invalid UTF-8)",
        errors=[{"field": field, "message": "not valid Unicode text"}],
    )


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


# json.loads(text, object_pairs_hook=...) builds a decoder (and its scanner) on every call;
# this one is built once. _loads keeps the one check json.loads makes before decoding.
_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates)


def _loads(text: str) -> Any:
    """``json.loads(text, object_pairs_hook=_reject_duplicates)``, same errors."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def _depth(value: Any, limit: int) -> int:
    """Depth of nested containers, level by level, stopping once ``limit`` is passed."""
    level, depth = [value], 0
    while True:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            return depth
        depth += 1
        if depth > limit:
            return depth
        level = []
        for container in containers:
            level.extend(container.values() if isinstance(container, dict) else container)


def parse_json_bytes(raw: bytes, *, max_depth: int) -> Any:
    """Strict UTF-8, strict JSON, no duplicate keys, nesting no deeper than ``max_depth``.

    The C parser guards its own recursion (a ``RecursionError`` past ~1000 levels, caught here),
    so a megabyte of ``[`` fails fast; shallower excess depth is found by an iterative walk of
    the parsed value that stops as soon as the limit is passed. No per-character Python loop.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"body: not valid UTF-8 (byte {exc.start})",
            errors=[{"field": "body", "message": "invalid UTF-8"}],
        ) from None
    too_deep = BadRequest(
        f"body: JSON nested deeper than {max_depth} levels",
        errors=[{"field": "body", "message": "too deep"}],
    )
    try:
        value = _loads(text)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise BadRequest(
            f"body: not valid JSON: {exc}", errors=[{"field": "body", "message": "invalid JSON"}]
        ) from None
    if _depth(value, max_depth) > max_depth:
        raise too_deep
    if _SURROGATE_ESCAPE_RE.search(text):
        where = invalid_text_at(value)
        if where is not None:
            raise invalid_text(where or "body")
    return value


async def read_json(request: web.Request, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The request's JSON object body, bounded in size and depth."""
    ctype = request.content_type
    if ctype not in ("application/json", "application/problem+json") and not ctype.endswith(
        "+json"
    ):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {ctype!r}",
            errors=[{"field": "Content-Type", "message": "not JSON"}],
        )
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(
            f"body: {request.content_length} bytes; the limit is {max_bytes}", limit_bytes=max_bytes
        )
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"body: more than {max_bytes} bytes", limit_bytes=max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if len(raw) > _INLINE_PARSE_BYTES:
        # Decoding, the depth check and parsing megabytes take a while: off the event loop.
        value = await asyncio.to_thread(parse_json_bytes, raw, max_depth=max_depth)
    else:
        value = parse_json_bytes(raw, max_depth=max_depth)
    if not isinstance(value, dict):
        raise field_error("body", "must be a JSON object")
    return value


def expect_keys(obj: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for key in obj:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            raise field_error(where, f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def take_str(
    obj: Mapping[str, Any],
    key: str,
    path: str = "",
    *,
    required: bool = True,
    default: str = "",
    max_chars: int = 10_000,
    min_chars: int = 0,
    choices: Iterable[str] | None = None,
) -> str:
    value = obj.get(key, _MISSING)
    where = _where(path, key)
    if value is _MISSING or value is None:
        if required:
            raise field_error(where, "is required")
        return default
    if not isinstance(value, str):
        raise field_error(where, f"must be a string, not {type(value).__name__}")
    if len(value) > max_chars:
        raise ValidationFailed([{"field": where, "message": f"longer than {max_chars} characters"}])
    if len(value.strip()) < min_chars:
        raise field_error(
            where,
            "must not be empty" if min_chars == 1 else f"needs at least {min_chars} characters",
        )
    if choices is not None:
        options = list(choices)
        if value not in options:
            raise field_error(where, f"must be one of {', '.join(options)}")
    return value


def take_str_list(
    obj: Mapping[str, Any],
    key: str,
    path: str = "",
    *,
    required: bool = True,
    max_items: int = 100,
    max_chars: int = 4096,
) -> list[str]:
    value = obj.get(key, _MISSING)
    where = _where(path, key)
    if value is _MISSING or value is None:
        if required:
            raise field_error(where, "is required")
        return []
    if not isinstance(value, list):
        raise field_error(where, f"must be a list, not {type(value).__name__}")
    if len(value) > max_items:
        raise field_error(where, f"more than {max_items} items")
    result = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item or len(item) > max_chars:
            raise field_error(f"{where}[{i}]", f"must be a non-empty string ≤ {max_chars} chars")
        result.append(item)
    return result


def take_obj(
    obj: Mapping[str, Any], key: str, path: str = "", *, required: bool = True
) -> dict[str, Any]:
    value = obj.get(key, _MISSING)
    where = _where(path, key)
    if value is _MISSING or value is None:
        if required:
            raise field_error(where, "is required")
        return {}
    if not isinstance(value, dict):
        raise field_error(where, f"must be an object, not {type(value).__name__}")
    return value


def take_bool(obj: Mapping[str, Any], key: str, path: str = "", *, default: bool = False) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise field_error(_where(path, key), "must be true or false")
    return value
