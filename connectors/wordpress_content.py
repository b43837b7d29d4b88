"""How a mediagate post looks in WordPress content: the job marker, images, upload file names.

Pure functions (no I/O) used by :mod:`connectors.wordpress`:

* :func:`marker` / :func:`with_marker` -- the per-job reconciliation marker, an HTML comment put
  inside the last element, where ``wpautop`` does not turn it into an empty paragraph;
* :func:`rewrite_images` -- ``<img src="image:N">`` becomes the attachment's URL with the class
  ``wp-image-<id>`` (WordPress then adds ``srcset`` and ``sizes``);
* :func:`upload_filename` / :func:`image_title` -- an ASCII ``Content-Disposition`` file name
  (WordPress neither decodes ``filename*`` nor percent-escapes) and the original name as title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connectors.base import Image

_IMG_TAG_RE = re.compile(r"<img\b[^>]*>", re.I)
_IMG_SRC_RE = re.compile(r"""(\bsrc\s*=\s*)(["'])image:(\d+)\2""", re.I)
_CLASS_RE = re.compile(r"""(\bclass\s*=\s*)(["'])(.*?)\2""", re.I | re.S)
_TRAILING_CLOSERS_RE = re.compile(r"(?:\s*</[A-Za-z][A-Za-z0-9]*\s*>)*\s*\Z")
_RAW_TEXT_RE = re.compile(r"</(?:script|style|textarea|title)\b", re.I)
_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")


def marker(job_id: str) -> str:
    """The reconciliation marker embedded in the post content (an HTML comment)."""
    return f"mediagate:job={job_id}"


def with_marker(content: str, job_id: str) -> str:
    """``content`` with the job's marker inside its last element.

    WordPress's ``wpautop`` makes a comment standing after the last block its own paragraph
    (``<p><!-- … --></p>``, an empty paragraph in the public page); inside the last element,
    before the closing tags that end the content, it stays part of that element.
    """
    tag = f"<!-- {marker(job_id)} -->"
    tail = _TRAILING_CLOSERS_RE.search(content)
    if tail is None or not tail.group(0).strip() or _RAW_TEXT_RE.search(tail.group(0)):
        return content.rstrip() + tag
    return content[: tail.start()] + tag + tail.group(0)


def upload_filename(image: Image) -> str:
    """An ASCII file name for ``Content-Disposition``: WordPress neither decodes ``filename*``
    (400 ``rest_upload_invalid_disposition``) nor percent-escapes (``封面.png`` would be stored
    as ``E5B081E99DA2.png``); a non-ASCII name becomes ``image-<sha256 prefix>.<ext>``."""
    name = image.filename or ""
    if _SAFE_NAME_RE.fullmatch(name) and "." in name:
        return name
    ext = name.rpartition(".")[2] if "." in name else ""
    if not re.fullmatch(r"[A-Za-z0-9]{1,5}", ext):
        ext = image.content_type.partition("/")[2].replace("jpeg", "jpg") or "bin"
    return f"image-{image.sha256[:12]}.{ext.lower()}"


def image_title(image: Image) -> str:
    """The original file name without its extension (the attachment's title)."""
    stem = (image.filename or "").rpartition(".")[0] or image.filename or ""
    return stem.strip()


def image_refs(content: str) -> list[int]:
    """The indexes N of every ``<img src="image:N">`` in ``content``."""
    refs = []
    for tag in _IMG_TAG_RE.finditer(content):
        src = _IMG_SRC_RE.search(tag.group(0))
        if src is not None:
            refs.append(int(src.group(3)))
    return refs


def rewrite_images(content: str, media: Mapping[int, Mapping[str, Any]]) -> str:
    """Each ``<img src="image:N">`` pointed at ``media[N]["url"]`` with ``wp-image-<id>`` added
    to its class (kept as the first attribute when the tag had no class)."""

    def _img(tag: re.Match[str]) -> str:
        text = tag.group(0)
        src = _IMG_SRC_RE.search(text)
        if src is None:
            return text
        record = media[int(src.group(3))]
        text = _IMG_SRC_RE.sub(
            lambda m: f"{m.group(1)}{m.group(2)}{record['url']}{m.group(2)}", text, count=1
        )
        wp_class = f"wp-image-{record['id']}"
        if _CLASS_RE.search(text):
            return _CLASS_RE.sub(
                lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)} {wp_class}{m.group(2)}",
                text,
                count=1,
            )
        return f'<img class="{wp_class}"' + text[4:]

    return _IMG_TAG_RE.sub(_img, content)


__all__ = [
    "image_refs",
    "image_title",
    "marker",
    "rewrite_images",
    "upload_filename",
    "with_marker",
]
