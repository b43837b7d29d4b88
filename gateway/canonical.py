"""Canonical form of a post and the content hash that approvals are bound to.

An approval token carries ``content_sha256``; the gateway recomputes it from the post it is about to
forward and publishes only on an exact match. So the hash must be *deterministic* (the same post
always gives the same bytes, whatever the key order or Unicode composition of the input) and
*complete* (every field that reaches the platform, and every image byte, is covered).

* :func:`canonical_json` serialises JSON the RFC 8785 (JCS) way, restricted to the subset the
  canonical post needs: objects, arrays, strings, booleans, null and integers in the I-JSON safe
  range. Floats are refused outright rather than reproducing ECMAScript number formatting: no field
  of a post is fractional, and refusing removes a whole class of cross-language disagreements.
* :func:`canonical_post` builds the one canonical shape (version ``v: 1``): text fields NFC
  normalised, images replaced by the SHA-256 of their decoded bytes.
* :func:`content_sha256` is the lowercase hex SHA-256 of the canonical JSON of the canonical post.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CANONICAL_VERSION",
    "TEXT_FIELDS",
    "canonical_json",
    "canonical_post",
    "content_sha256",
]

#: Version tag inside every canonical post; bump it when the shape changes so old hashes never
#: collide with new ones.
CANONICAL_VERSION = 1

#: Text fields of a post, in the order the API documents them. Missing or null → "".
TEXT_FIELDS: tuple[str, ...] = ("title", "digest", "author", "content", "source", "category")

# I-JSON (RFC 7493) integers: exactly representable as IEEE 754 doubles, so every JCS
# implementation (including JavaScript ones) serialises them identically.
_MAX_SAFE_INT = 2**53 - 1
_MAX_DEPTH = 32
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

# RFC 8785 §3.2.2.2: only these get a short escape; other controls become \u00xx (lowercase hex).
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` as RFC 8785 canonical JSON (UTF-8 bytes, no whitespace).

    Object keys are sorted by their UTF-16 code units (as JCS requires, which differs from
    Python's code-point order for characters outside the BMP), strings are emitted as-is in UTF-8
    with only the mandatory escapes. Supported values: ``dict`` with ``str`` keys, ``list`` /
    ``tuple``, ``str``, ``bool``, ``None`` and ``int`` within ±(2**53 - 1).

    Raises:
        ValueError: for floats (including NaN/Infinity), out-of-range integers, non-string keys,
            lone surrogates, nesting deeper than 32 levels or any other unsupported type.
    """
    parts: list[str] = []
    _emit(obj, parts, depth=0)
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates cannot be represented in UTF-8
        raise ValueError("string contains a lone surrogate; not valid Unicode") from exc


def _emit(obj: Any, out: list[str], *, depth: int) -> None:
    """Append the canonical serialisation of ``obj`` to ``out``."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"JSON nested deeper than {_MAX_DEPTH} levels")
    # bool before int: bool is a subclass of int.
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        if not -_MAX_SAFE_INT <= obj <= _MAX_SAFE_INT:
            raise ValueError(f"integer {obj} outside the I-JSON safe range")
        out.append(str(int(obj)))
    elif isinstance(obj, float):
        raise ValueError("floats are not supported in canonical JSON (integers only)")
    elif isinstance(obj, str):
        out.append(_quote(obj))
    elif isinstance(obj, Mapping):
        for key in obj:
            if not isinstance(key, str):
                raise ValueError(f"object key {key!r} is not a string")
        out.append("{")
        for i, key in enumerate(sorted(obj, key=_utf16_sort_key)):
            if i:
                out.append(",")
            out.append(_quote(key))
            out.append(":")
            _emit(obj[key], out, depth=depth + 1)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(",")
            _emit(item, out, depth=depth + 1)
        out.append("]")
    else:
        raise ValueError(f"type {type(obj).__name__} is not supported in canonical JSON")


def _utf16_sort_key(key: str) -> bytes:
    """Sort key comparing strings by UTF-16 code units (big-endian bytes compare the same way)."""
    try:
        return key.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise ValueError("object key contains a lone surrogate") from exc


# What needs escaping: the quote, the backslash and the C0 controls; all else is emitted as-is.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    return _SHORT_ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def _quote(text: str) -> str:
    """Quote a string with exactly the escapes RFC 8785 prescribes (one regex pass in C; the
    per-character loop it replaces was the gate's largest cost after screening)."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def canonical_post(post: Mapping[str, Any]) -> dict[str, Any]:
    """Build the canonical form of a post: the exact object the content hash is computed over.

    Shape (version 1)::

        {"v": 1, "title": str, "digest": str, "author": str, "content": str, "source": str,
         "category": str, "cover": sha256-hex | null, "images": [sha256-hex, ...]}

    Text fields are NFC-normalised so that visually identical, canonically equivalent input (for
    example a precomposed "é" versus "e" + combining accent) hashes the same; a missing or null
    text field becomes "". Images (``cover`` and each entry of ``images``) are bound by the SHA-256
    of their decoded bytes; ``filename`` and ``content_type`` are metadata and are not covered. An
    image is either ``{"data": <standard base64>, ...}`` or already ``{"sha256": <hex>, ...}``;
    when both are given they must agree. Other keys of ``post`` are ignored here: the gateway must
    forward only the fields listed above.

    Raises:
        ValueError: naming the offending field (``post.title``, ``post.images[2].data``, ...) when
            a value has the wrong type or an image cannot be decoded.
    """
    if not isinstance(post, Mapping):
        raise ValueError("post: expected an object")
    result: dict[str, Any] = {"v": CANONICAL_VERSION}
    for field in TEXT_FIELDS:
        value = post.get(field)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"post.{field}: expected a string, got {type(value).__name__}")
        result[field] = unicodedata.normalize("NFC", value)

    cover = post.get("cover")
    result["cover"] = None if cover is None else _image_sha256(cover, "post.cover")

    images = post.get("images")
    if images is None:
        images = []
    if not isinstance(images, list | tuple):
        raise ValueError(f"post.images: expected a list, got {type(images).__name__}")
    result["images"] = [_image_sha256(img, f"post.images[{i}]") for i, img in enumerate(images)]
    return result


def _image_sha256(image: Any, where: str) -> str:
    """Lowercase hex SHA-256 of an image object's bytes (or its declared, checked digest)."""
    if not isinstance(image, Mapping):
        raise ValueError(f"{where}: expected an image object")
    data = image.get("data")
    declared = image.get("sha256")
    if declared is not None and (
        not isinstance(declared, str) or not _SHA256_HEX.fullmatch(declared)
    ):
        raise ValueError(f"{where}.sha256: expected 64 hexadecimal characters")
    if data is None:
        if declared is None:
            raise ValueError(f"{where}: needs either 'data' (base64) or 'sha256'")
        return declared.lower()
    if not isinstance(data, str):
        raise ValueError(f"{where}.data: expected a base64 string")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{where}.data: not valid base64 ({exc})") from exc
    if not raw:
        raise ValueError(f"{where}.data: empty image")
    digest = hashlib.sha256(raw).hexdigest()
    if declared is not None and declared.lower() != digest:
        raise ValueError(f"{where}.sha256: does not match the SHA-256 of {where}.data")
    return digest


def content_sha256(post: Mapping[str, Any]) -> str:
    """Lowercase hex SHA-256 of ``canonical_json(canonical_post(post))``.

    This is the value an approval token's ``content_sha256`` claim must equal. Any change to a
    text field (beyond NFC-equivalent recomposition) or to any image byte changes it.
    """
    return hashlib.sha256(canonical_json(canonical_post(post))).hexdigest()
