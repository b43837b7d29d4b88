"""``Idempotency-Key`` on ``POST /v1/posts``: a repeated request gets the first answer.

Keys are scoped to the caller. The first request marks the key "in flight" (SET NX); a repeat
while it runs gets 409; a repeat afterwards gets the stored status and body; a repeat with a
different body gets 422. 5xx answers are not stored (the failure was ours; retrying is right).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

from gateway.errors import Conflict, ValidationFailed
from gateway.keys import Keys

MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Stored:
    status: int
    body: dict[str, Any]


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Idempotency:
    def __init__(self, redis: aredis.Redis, keys: Keys, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s

    async def begin(self, principal_id: str, key: str, req_hash: str) -> Stored | None:
        """None if this request should run; the stored answer if it already ran."""
        if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
            raise ValidationFailed(
                [{"field": "Idempotency-Key", "message": f"1-{MAX_KEY_CHARS} printable characters"}]
            )
        rkey = self._keys.idempotency(principal_id, key)
        marker = json.dumps({"state": "running", "hash": req_hash})
        if await self._redis.set(rkey, marker, nx=True, ex=self._ttl_s):
            return None
        raw = await self._redis.get(rkey)
        if raw is None:  # expired in between: run it
            return None
        data = json.loads(raw)
        if data["hash"] != req_hash:
            raise ValidationFailed(
                [
                    {
                        "field": "Idempotency-Key",
                        "message": "already used with a different request body",
                    }
                ]
            )
        if data["state"] == "running":
            raise Conflict(
                "a request with this Idempotency-Key is still being processed",
                reason="idempotency_in_flight",
            )
        return Stored(status=data["status"], body=data["body"])

    async def finish(
        self, principal_id: str, key: str, req_hash: str, status: int, body: dict[str, Any]
    ) -> None:
        rkey = self._keys.idempotency(principal_id, key)
        if status >= 500:
            await self._redis.delete(rkey)
            return
        await self._redis.set(
            rkey,
            json.dumps(
                {"state": "done", "hash": req_hash, "status": status, "body": body},
                ensure_ascii=False,
            ),
            ex=self._ttl_s,
        )
