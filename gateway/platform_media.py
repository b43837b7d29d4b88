"""The media each account's platform already holds, by content hash (one Redis hash per account).

A connector that finds this library on its :class:`~connectors.base.PublishContext` as ``media``
uploads identical bytes once per account instead of once per job; the record (e.g. a WordPress
attachment id and URL) is whatever the connector needs to reuse the upload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aredis

from gateway.keys import Keys


class AccountMediaLibrary:
    """A :class:`connectors.base.MediaLibrary` for one account, in the store."""

    def __init__(self, redis: aredis.Redis, keys: Keys, account: str) -> None:
        self._redis = redis
        self._key = keys.platform_media(account)

    async def get(self, sha256: str) -> Mapping[str, Any] | None:
        raw = await self._redis.hget(self._key, sha256)
        if raw is None:
            return None
        try:
            record = json.loads(raw)
        except ValueError:
            return None
        return record if isinstance(record, dict) else None

    async def put(self, sha256: str, record: Mapping[str, Any]) -> None:
        await self._redis.hset(self._key, sha256, json.dumps(dict(record)))

    async def forget(self, sha256: str) -> None:
        await self._redis.hdel(self._key, sha256)
