"""News material the units send to Brand-PR (Art. 23): text, images and files, not a publish
request. Kept in the store, counted per unit and week in the weekly report.

Who sends: editors and up, for their own unit. Who reads: Brand-PR, auditors and admins all of
it; everyone else what their own unit (or a unit below it) sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aredis

from gateway.authz import covers
from gateway.errors import NotFound, PayloadTooLarge, field_error
from gateway.keys import Keys, text
from gateway.postmodel import IMAGE_TYPES
from gateway.principals import Principal
from gateway.services import Services, actor_of
from gateway.validation import expect_keys, take_str

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 200
MAX_TEXT_CHARS = 20_000
MAX_NOTE_CHARS = 2_000
MAX_IMAGES = 9
MAX_FILES = 5
MAX_FILE_BYTES = 5 * 1024 * 1024
FILE_TYPES = (
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/plain",
    "application/zip",
)
#: Roles that read every unit's material.
READ_ALL_ROLES = frozenset({"brand_pr", "auditor", "admin"})


def new_material_id() -> str:
    return "mat_" + secrets.token_hex(8)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    data: str  # base64

    def public(self, *, with_data: bool) -> dict[str, Any]:
        data = asdict(self)
        if not with_data:
            data.pop("data")
        return data


@dataclass(frozen=True)
class Material:
    id: str
    unit: str
    by: str
    name: str
    at: float
    title: str
    text: str
    note: str = ""
    campaign: str = ""
    images: tuple[Attachment, ...] = ()
    files: tuple[Attachment, ...] = ()

    def public(self, *, with_data: bool = False) -> dict[str, Any]:
        return {
            "id": self.id,
            "unit": self.unit,
            "by": self.by,
            "name": self.name,
            "at": self.at,
            "title": self.title,
            "text": self.text,
            "note": self.note,
            "campaign": self.campaign or None,
            "images": [i.public(with_data=with_data) for i in self.images],
            "files": [f.public(with_data=with_data) for f in self.files],
        }

    def dump(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Material:
        data = json.loads(raw)
        data["images"] = tuple(Attachment(**i) for i in data.get("images", ()))
        data["files"] = tuple(Attachment(**f) for f in data.get("files", ()))
        return cls(**data)


def _attachments(
    value: Any, field: str, *, max_items: int, types: tuple[str, ...], max_bytes: int
) -> tuple[Attachment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise field_error(field, "must be a list of {filename, content_type, data}")
    if len(value) > max_items:
        raise field_error(field, f"more than {max_items} items")
    out: list[Attachment] = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise field_error(where, "must be an object with filename, content_type and data")
        expect_keys(item, where, ("filename", "content_type", "data"))
        filename = take_str(item, "filename", where, max_chars=200, min_chars=1)
        ctype = take_str(item, "content_type", where, max_chars=128, choices=types)
        raw = take_str(item, "data", where, max_chars=max_bytes * 4 // 3 + 8, min_chars=1)
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise field_error(f"{where}.data", "must be base64") from None
        if not data:
            raise field_error(f"{where}.data", "is empty")
        if len(data) > max_bytes:
            raise PayloadTooLarge(
                f"{where}.data: {len(data)} bytes; limit {max_bytes}",
                errors=[{"field": f"{where}.data", "message": "too large"}],
                limit_bytes=max_bytes,
            )
        out.append(Attachment(filename, ctype, len(data), hashlib.sha256(data).hexdigest(), raw))
    return tuple(out)


def parse_material(data: dict[str, Any], max_image_bytes: int) -> dict[str, Any]:
    """The fields of ``POST /v1/materials``, bounded; 4xx naming the field otherwise."""
    expect_keys(data, "", ("title", "text", "note", "campaign", "images", "files"))
    title = take_str(data, "title", max_chars=MAX_TITLE_CHARS, min_chars=1)
    body = take_str(data, "text", required=False, max_chars=MAX_TEXT_CHARS)
    images = _attachments(
        data.get("images"),
        "images",
        max_items=MAX_IMAGES,
        types=IMAGE_TYPES,
        max_bytes=max_image_bytes,
    )
    files = _attachments(
        data.get("files"), "files", max_items=MAX_FILES, types=FILE_TYPES, max_bytes=MAX_FILE_BYTES
    )
    if not body.strip() and not images and not files:
        raise field_error("text", "send some text, an image or a file")
    return {
        "title": title,
        "text": body,
        "note": take_str(data, "note", required=False, max_chars=MAX_NOTE_CHARS),
        "campaign": take_str(data, "campaign", required=False, max_chars=64),
        "images": images,
        "files": files,
    }


class MaterialService:
    """Material in the store: send, read, list, count per unit."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._redis: aredis.Redis = svc.redis
        self._keys: Keys = svc.keys

    async def send(
        self, principal: Principal, fields: dict[str, Any], request_id: str = ""
    ) -> Material:
        """Keep material from ``principal``'s unit (audited first: no audit, nothing kept)."""
        material = Material(
            id=new_material_id(),
            unit=principal.unit,
            by=principal.id,
            name=principal.name,
            at=time.time(),
            **fields,
        )
        try:
            await self.svc.audit.append(
                actor=actor_of(principal),
                action="material.send",
                target=material.id,
                request_id=request_id,
                decision="received",
                details={
                    "unit": material.unit,
                    "title": material.title,
                    "images": len(material.images),
                    "files": len(material.files),
                    "campaign": material.campaign,
                },
            )
        except Exception:
            self.svc.metrics.audit_failures.inc()
            raise
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.material(material.id), material.dump())
            pipe.zadd(self._keys.materials(), {material.id: material.at})
            await pipe.execute()
        return material

    def may_read(self, principal: Principal, material: Material) -> bool:
        return principal.role in READ_ALL_ROLES or covers(
            self.svc.settings.policy, principal, material.unit
        )

    async def get(self, principal: Principal, material_id: str) -> Material:
        raw = await self._redis.get(self._keys.material(material_id))
        material = Material.from_json(raw) if raw else None
        if material is None or not self.may_read(principal, material):
            raise NotFound(f"no material {material_id!r}")
        return material

    async def between(self, start: float, end: float, limit: int = 10_000) -> list[Material]:
        """Material received in ``[start, end)``, oldest first."""
        ids: list[Any] = await self._redis.zrangebyscore(
            self._keys.materials(), start, f"({end}", start=0, num=limit
        )
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.material(text(i)) for i in ids])
        return [Material.from_json(r) for r in raws if r]

    async def list_for(
        self, principal: Principal, *, unit: str = "", limit: int = 100
    ) -> list[Material]:
        """Newest first, what the principal may read, optionally of one unit."""
        ids: list[Any] = await self._redis.zrevrange(self._keys.materials(), 0, 1999)
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.material(text(i)) for i in ids])
        found = [Material.from_json(r) for r in raws if r]
        return [m for m in found if self.may_read(principal, m) and (not unit or m.unit == unit)][
            :limit
        ]

    async def count_by_unit(self, start: float, end: float) -> Counter[str]:
        return Counter(m.unit for m in await self.between(start, end))
