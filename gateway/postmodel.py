"""The POST shape of the API, parsed and bounded, and its conversion for connectors."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from connectors.base import Image, OutboundPost
from gateway.errors import PayloadTooLarge, field_error
from gateway.schema import Array, Field, Obj, Ref, Str, Type
from gateway.settings import POST_CATEGORIES, LimitSettings

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


# Non-empty standard base64 with padding (what base64.b64decode(validate=True) reads).
_BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"


@dataclass(frozen=True)
class ImageType(Type):
    """An image in the API: filename, content type and base64 data, decoded and bounded."""

    max_image_bytes: int

    @cached_property  # built once per type (each parse used to build it anew)
    def fields(self) -> Obj:
        return Obj(
            {
                "filename": Field(Str(200, min_chars=1), required=True),
                "content_type": Field(Str(64, choices=IMAGE_TYPES), required=True),
                "data": Field(
                    Str(
                        self.max_image_bytes * 4 // 3 + 8,
                        pattern=_BASE64,
                        pattern_message="must be base64",
                        extra={"contentEncoding": "base64"},
                    ),
                    required=True,
                ),
            }
        )

    def parse(self, value: Any, where: str) -> Image:
        if not isinstance(value, dict):
            raise field_error(where, "must be an object with filename, content_type and data")
        raw = self.fields.parse(value, where)
        try:
            data = base64.b64decode(raw["data"], validate=True)
        except (binascii.Error, ValueError):
            raise field_error(f"{where}.data", "must be base64") from None
        if len(data) > self.max_image_bytes:
            raise PayloadTooLarge(
                f"{where}.data: {len(data)} bytes; limit {self.max_image_bytes}",
                errors=[{"field": f"{where}.data", "message": "too large"}],
                limit_bytes=self.max_image_bytes,
            )
        return Image(
            filename=raw["filename"],
            content_type=raw["content_type"],
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def json_schema(self) -> dict[str, Any]:
        return self.fields.json_schema()


@dataclass(frozen=True)
class PostType(Type):
    """The POST shape (DESIGN.md), bounded by the configured limits; parses to a :class:`Post`."""

    limits: LimitSettings

    @cached_property  # built once per type (each parse used to build it anew)
    def fields(self) -> Obj:
        image = Ref("Image", ImageType(self.limits.max_image_bytes))
        return Obj(
            {
                "title": Field(Str(1000)),
                "digest": Field(Str(2000)),
                "author": Field(Str(200)),
                "content": Field(
                    Str(self.limits.max_text_chars, min_chars=1, description="HTML allowed"),
                    required=True,
                ),
                "source": Field(
                    Str(2000), description="Required to publish (Art. 15); screening warns"
                ),
                "category": Field(Str(64, choices=POST_CATEGORIES), required=True),
                "cover": Field(image),
                "images": Field(Array(image, self.limits.max_images)),
            }
        )

    def parse(self, value: Any, where: str) -> Post:
        if not isinstance(value, dict):
            raise field_error(where, "must be an object")
        raw = self.fields.parse(value, where)
        return Post(
            title=raw["title"] or "",
            digest=raw["digest"] or "",
            author=raw["author"] or "",
            content=raw["content"],
            source=raw["source"] or "",
            category=raw["category"],
            cover=raw["cover"],
            images=tuple(raw["images"] or ()),
        )

    def json_schema(self) -> dict[str, Any]:
        return self.fields.json_schema()


@cache
def post_type(limits: LimitSettings) -> PostType:
    return PostType(limits)


def parse_post(value: Any, limits: LimitSettings, path: str = "post") -> Post:
    post: Post = post_type(limits).parse(value, path)
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
