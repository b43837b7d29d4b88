"""The POST shape of the API, parsed and bounded, and its conversion for connectors."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import Image, OutboundPost
from gateway.errors import PayloadTooLarge, field_error
from gateway.settings import POST_CATEGORIES, LimitSettings
from gateway.validation import expect_keys, take_str

POST_FIELDS = ("title", "digest", "author", "content", "source", "category", "cover", "images")
TEXT_FIELDS = ("title", "digest", "author", "content", "source")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


@dataclass(frozen=True, slots=True)
class Post:
    title: str
    digest: str
    author: str
    content: str
    source: str
    category: str
    cover: Image | None = None
    images: tuple[Image, ...] = ()

    def texts(self) -> dict[str, str]:
        """The text fields screening looks at."""
        return {f: getattr(self, f) for f in TEXT_FIELDS if getattr(self, f)}

    def as_api(self) -> dict[str, Any]:
        """The API shape with image hashes (what the canonical hash is computed over)."""

        def img(i: Image) -> dict[str, str]:
            return {"filename": i.filename, "content_type": i.content_type, "sha256": i.sha256}

        return {
            "title": self.title,
            "digest": self.digest,
            "author": self.author,
            "content": self.content,
            "source": self.source,
            "category": self.category,
            "cover": img(self.cover) if self.cover else None,
            "images": [img(i) for i in self.images],
        }

    def outbound(self, content_sha256: str) -> OutboundPost:
        return OutboundPost(
            title=self.title,
            digest=self.digest,
            author=self.author,
            content=self.content,
            source=self.source,
            category=self.category,
            content_sha256=content_sha256,
            cover=self.cover,
            images=self.images,
        )


def _image(value: Any, where: str, limits: LimitSettings) -> Image:
    if not isinstance(value, dict):
        raise field_error(where, "must be an object with filename, content_type and data")
    expect_keys(value, where, ("filename", "content_type", "data"))
    filename = take_str(value, "filename", where, max_chars=200, min_chars=1)
    ctype = take_str(value, "content_type", where, max_chars=64, choices=IMAGE_TYPES)
    data_b64 = take_str(value, "data", where, max_chars=limits.max_image_bytes * 4 // 3 + 8)
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise field_error(f"{where}.data", "must be base64") from None
    if not data:
        raise field_error(f"{where}.data", "is empty")
    if len(data) > limits.max_image_bytes:
        raise PayloadTooLarge(
            f"{where}.data: {len(data)} bytes; limit {limits.max_image_bytes}",
            errors=[{"field": f"{where}.data", "message": "too large"}],
            limit_bytes=limits.max_image_bytes,
        )
    return Image(
        filename=filename, content_type=ctype, data=data, sha256=hashlib.sha256(data).hexdigest()
    )


def parse_post(value: Any, limits: LimitSettings, path: str = "post") -> Post:
    if not isinstance(value, dict):
        raise field_error(path, "must be an object")
    expect_keys(value, path, POST_FIELDS)
    max_chars = limits.max_text_chars

    def text(name: str, *, required: bool = False, cap: int = max_chars) -> str:
        return take_str(value, name, path, required=required, max_chars=cap)

    images_raw = value.get("images") or []
    if not isinstance(images_raw, list):
        raise field_error(f"{path}.images", "must be a list")
    if len(images_raw) > limits.max_images:
        raise field_error(f"{path}.images", f"more than {limits.max_images} images")
    cover_raw = value.get("cover")
    post = Post(
        title=text("title", cap=1000),
        digest=text("digest", cap=2000),
        author=text("author", cap=200),
        content=text("content", required=True),
        source=text("source", cap=2000),
        category=take_str(value, "category", path, choices=POST_CATEGORIES),
        cover=_image(cover_raw, f"{path}.cover", limits) if cover_raw is not None else None,
        images=tuple(_image(v, f"{path}.images[{i}]", limits) for i, v in enumerate(images_raw)),
    )
    if not post.content.strip():
        raise field_error(f"{path}.content", "must not be empty")
    return post


def post_from_stored(data: Mapping[str, Any]) -> Post:
    """Rebuild a post kept by a job (images stored base64)."""

    def img(v: Mapping[str, Any] | None) -> Image | None:
        if not v:
            return None
        return Image(v["filename"], v["content_type"], base64.b64decode(v["data"]), v["sha256"])

    images = tuple(i for i in (img(v) for v in data.get("images", [])) if i is not None)
    return Post(
        title=data["title"],
        digest=data["digest"],
        author=data["author"],
        content=data["content"],
        source=data["source"],
        category=data["category"],
        cover=img(data.get("cover")),
        images=images,
    )


def post_to_stored(post: Post) -> dict[str, Any]:
    def img(i: Image | None) -> dict[str, str] | None:
        if i is None:
            return None
        return {
            "filename": i.filename,
            "content_type": i.content_type,
            "sha256": i.sha256,
            "data": base64.b64encode(i.data).decode(),
        }

    return {
        "title": post.title,
        "digest": post.digest,
        "author": post.author,
        "content": post.content,
        "source": post.source,
        "category": post.category,
        "cover": img(post.cover),
        "images": [img(i) for i in post.images],
    }
