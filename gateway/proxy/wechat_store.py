"""What the WeChat proxy keeps per proxy client: images, drafts and publish records.

Nothing here reaches a platform. Images (``media/uploadimg``, ``material/add_material``) are kept
with a TTL until a draft refers to them; a draft keeps the article as the tool sent it (to answer
``draft/get``) and the gateway post it became; a publish record ties a ``publish_id`` to the desk
submission it started.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

import redis.asyncio as aredis

from connectors.base import Image
from gateway.keys import Keys, text

#: publish ids start above 2^31, like WeChat's (SDKs that keep them in an int32 break early).
PUBLISH_ID_BASE = 2_247_483_648


@dataclass(frozen=True)
class KeptDraft:
    media_id: str
    account: str
    articles: tuple[dict[str, Any], ...]  # as draft/get answers them (the tool's own URLs)
    post: dict[str, Any]  # gateway.postmodel stored form
    content_sha256: str
    created_at: float
    updated_at: float
    publish_id: str = ""  # set once freepublish/submit turned it into a submission

    def dump(self) -> str:
        return json.dumps({**asdict(self), "articles": list(self.articles)}, ensure_ascii=False)

    @classmethod
    def load(cls, raw: bytes | str) -> KeptDraft:
        data = json.loads(raw)
        data["articles"] = tuple(data["articles"])
        return cls(**data)


@dataclass(frozen=True)
class PublishRecord:
    publish_id: str
    submission: str  # the desk submission (the latest version this publish follows)
    draft: str
    account: str
    created_at: float

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, raw: bytes | str) -> PublishRecord:
        return cls(**json.loads(raw))


class WeChatStore:
    def __init__(self, redis: aredis.Redis, keys: Keys, media_keep_s: float) -> None:
        self._redis = redis
        self._keys = keys
        self._media_keep_s = int(media_keep_s)

    # --- images -----------------------------------------------------------------------------
    async def keep_image(self, appid: str, image: Image, kind: str) -> str:
        media_id = f"mgm_{secrets.token_urlsafe(18)}"
        record = {
            "kind": kind,
            "filename": image.filename,
            "content_type": image.content_type,
            "sha256": image.sha256,
            "data": base64.b64encode(image.data).decode(),
        }
        await self._redis.set(
            self._keys.proxy_media(appid, media_id), json.dumps(record), ex=self._media_keep_s
        )
        return media_id

    async def image(self, appid: str, media_id: str) -> Image | None:
        if not media_id.startswith("mgm_") or len(media_id) > 64:
            return None
        raw = await self._redis.get(self._keys.proxy_media(appid, media_id))
        if raw is None:
            return None
        r = json.loads(raw)
        return Image(r["filename"], r["content_type"], base64.b64decode(r["data"]), r["sha256"])

    # --- drafts -----------------------------------------------------------------------------
    async def add_draft(self, appid: str, draft: KeptDraft) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.proxy_draft(appid, draft.media_id), draft.dump())
            pipe.zadd(self._keys.proxy_drafts(appid), {draft.media_id: draft.updated_at})
            await pipe.execute()

    async def put_draft(self, appid: str, draft: KeptDraft) -> None:
        await self.add_draft(appid, draft)

    async def draft(self, appid: str, media_id: str) -> KeptDraft | None:
        if not media_id or len(media_id) > 64:
            return None
        raw = await self._redis.get(self._keys.proxy_draft(appid, media_id))
        return KeptDraft.load(raw) if raw is not None else None

    async def delete_draft(self, appid: str, media_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._keys.proxy_draft(appid, media_id))
            pipe.zrem(self._keys.proxy_drafts(appid), media_id)
            await pipe.execute()

    async def drafts(self, appid: str, offset: int, count: int) -> tuple[int, list[KeptDraft]]:
        key = self._keys.proxy_drafts(appid)
        total = int(await self._redis.zcard(key))
        ids = [
            text(m)
            for m in cast(list[bytes], await self._redis.zrevrange(key, offset, offset + count - 1))
        ]
        found = [await self.draft(appid, m) for m in ids]
        return total, [d for d in found if d is not None]

    async def draft_count(self, appid: str) -> int:
        return int(await self._redis.zcard(self._keys.proxy_drafts(appid)))

    # --- publish records --------------------------------------------------------------------
    async def claim(self, appid: str, media_id: str) -> bool:
        """One ``freepublish/submit`` per draft at a time (kept once it succeeded)."""
        key = self._keys.proxy_draft_claim(appid, media_id)
        return bool(await self._redis.set(key, "1", nx=True, ex=self._media_keep_s))

    async def unclaim(self, appid: str, media_id: str) -> None:
        await self._redis.delete(self._keys.proxy_draft_claim(appid, media_id))

    async def new_publish(self, appid: str, draft: KeptDraft, submission_id: str) -> PublishRecord:
        seq = int(await self._redis.incr(self._keys.proxy_publish_seq()))
        now = time.time()
        record = PublishRecord(
            str(PUBLISH_ID_BASE + seq), submission_id, draft.media_id, draft.account, now
        )
        marked = replace(draft, publish_id=record.publish_id, updated_at=now)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.proxy_publish(appid, record.publish_id), record.dump())
            pipe.zadd(self._keys.proxy_publishes(appid), {record.publish_id: now})
            pipe.set(self._keys.proxy_draft(appid, draft.media_id), marked.dump())
            await pipe.execute()
        return record

    async def publish(self, appid: str, publish_id: str) -> PublishRecord | None:
        if not publish_id.isdigit() or len(publish_id) > 20:
            return None
        raw = await self._redis.get(self._keys.proxy_publish(appid, publish_id))
        return PublishRecord.load(raw) if raw is not None else None

    async def follow(self, appid: str, record: PublishRecord, submission_id: str) -> None:
        """The publish now follows a newer version of its submission."""
        moved = replace(record, submission=submission_id)
        await self._redis.set(self._keys.proxy_publish(appid, record.publish_id), moved.dump())

    async def publishes(self, appid: str, limit: int = 1000) -> list[PublishRecord]:
        ids = await self._redis.zrevrange(self._keys.proxy_publishes(appid), 0, limit - 1)
        found = [await self.publish(appid, text(i)) for i in cast(list[bytes], ids)]
        return [r for r in found if r is not None]
