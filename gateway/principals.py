"""Principals and their API keys.

A principal is one person or system with one role in one unit. Its API key is
``mg_<key id>_<secret>``: random, shown once at creation, stored only as a SHA-256 hash (the
secret has 256 bits of entropy, so a fast hash is enough), compared in constant time, revocable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import redis.asyncio as aredis

from gateway.errors import Conflict
from gateway.keys import Keys, text
from gateway.settings import ROLES

KEY_PREFIX = "mg_"

# Takes a display name for a key id unless an active principal holds it: ARGV[1] name,
# ARGV[2] new id, ARGV[3] the holder found revoked (or "") that may be replaced.
_CLAIM_NAME_LUA = """
local holder = redis.call('HGET', KEYS[1], ARGV[1])
if holder and holder ~= ARGV[3] then return holder end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return false
"""


_RELEASE_NAME_LUA = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""


def principal_from_record(raw: bytes | str | None) -> Principal | None:
    """The principal a stored key record describes (its secret hash left out); None for none."""
    if raw is None:
        return None
    record = json.loads(raw)
    record.pop("secret_sha256", None)
    return Principal(**record)


class NameTaken(Conflict):
    """409: display names are unique among active principals (who approved must be clear)."""

    slug, title = "name-taken", "Display name already in use"


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    role: str
    unit: str
    created_at: float = 0.0
    revoked: bool = False

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "unit": self.unit,
            "created_at": self.created_at,
            "revoked": self.revoked,
        }


@dataclass(frozen=True, slots=True)
class IssuedKey:
    principal: Principal
    key: str  # the only time the full key exists outside the caller's hands


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def presented(api_key: str) -> tuple[str, str] | None:
    """The key id of a well-formed API key and the SHA-256 of its secret, as its stored record
    holds it (None if the key is malformed); the key is not checked."""
    parts = _split(api_key)
    return (parts[0], _hash(parts[1])) if parts else None


def _split(api_key: str) -> tuple[str, str] | None:
    if not api_key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = api_key[len(KEY_PREFIX) :].partition("_")
    if not sep or not key_id.isalnum() or len(key_id) > 32 or not secret or len(secret) > 128:
        return None
    return key_id, secret


class PrincipalStore:
    def __init__(self, redis: aredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._claim = redis.register_script(_CLAIM_NAME_LUA)
        self._release = redis.register_script(_RELEASE_NAME_LUA)

    async def check_name(self, name: str) -> None:
        """Raise :class:`NameTaken` if an active principal already has this display name."""
        holder = await self._active_holder(name)
        if holder is not None:
            raise NameTaken(
                f"an active principal ({holder}) is already named {name!r}; "
                "display names are unique among active principals",
                errors=[{"field": "name", "message": "already in use"}],
            )

    async def _active_holder(self, name: str) -> str | None:
        raw = await self._redis.hget(self._keys.principal_names(), name)
        if raw is not None:
            held = await self.get(text(raw))
            if held is not None and not held.revoked:
                return held.id
        # Principals created before the name index existed are found by a scan.
        for principal in await self.list_all():
            if principal.name == name and not principal.revoked:
                return principal.id
        return None

    async def create(self, *, name: str, role: str, unit: str) -> IssuedKey:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        key_id = secrets.token_hex(8)
        await self.check_name(name)
        raw = await self._redis.hget(self._keys.principal_names(), name)
        revoked_holder = text(raw) if raw is not None else ""
        taken = await self._claim(
            keys=[self._keys.principal_names()], args=[name, key_id, revoked_holder]
        )
        if taken:  # another request took the name between the check and the claim
            raise NameTaken(
                f"{name!r} was just taken by {text(taken)}",
                errors=[{"field": "name", "message": "already in use"}],
            )
        secret = secrets.token_urlsafe(32)
        principal = Principal(id=key_id, name=name, role=role, unit=unit, created_at=time.time())
        record = {**asdict(principal), "secret_sha256": _hash(secret)}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.api_key(key_id), json.dumps(record, ensure_ascii=False))
            pipe.sadd(self._keys.api_keys(), key_id)
            await pipe.execute()
        return IssuedKey(principal=principal, key=f"{KEY_PREFIX}{key_id}_{secret}")

    async def authenticate(
        self, api_key: str, read: tuple[str, bytes | str | None] | None = None
    ) -> Principal | None:
        """The principal ``api_key`` belongs to, None if it is unknown, wrong or revoked.
        ``read``: (key id, its stored record) when the caller read it already."""
        parts = _split(api_key)
        if parts is None:
            return None
        key_id, secret = parts
        raw: bytes | str | None
        if read is not None and read[0] == key_id:
            raw = read[1]
        else:
            raw = await self._redis.get(self._keys.api_key(key_id))
        if raw is None:
            # Spend the same hashing work so timing does not reveal which ids exist.
            hmac.compare_digest(_hash(secret), _hash(""))
            return None
        record = json.loads(raw)
        if not hmac.compare_digest(record.pop("secret_sha256"), _hash(secret)):
            return None
        principal = Principal(**record)
        return None if principal.revoked else principal

    async def get(self, key_id: str) -> Principal | None:
        return principal_from_record(await self._redis.get(self._keys.api_key(key_id)))

    async def get_many(self, key_ids: Sequence[str]) -> dict[str, Principal | None]:
        """:meth:`get` for several key ids in one round trip."""
        if not key_ids:
            return {}
        raws = await self._redis.mget([self._keys.api_key(k) for k in key_ids])
        return {k: principal_from_record(r) for k, r in zip(key_ids, raws, strict=True)}

    async def revoke(self, key_id: str) -> Principal | None:
        key = self._keys.api_key(key_id)
        raw = await self._redis.get(key)
        if raw is None:
            return None
        record = json.loads(raw)
        record["revoked"] = True
        await self._redis.set(key, json.dumps(record, ensure_ascii=False))
        # The name is free again (only if it still points at this principal).
        await self._release(keys=[self._keys.principal_names()], args=[record["name"], key_id])
        record.pop("secret_sha256", None)
        return Principal(**record)

    async def list_all(self) -> list[Principal]:
        ids = sorted(text(m) for m in await self._redis.smembers(self._keys.api_keys()))
        found = [await self.get(i) for i in ids]
        return [p for p in found if p is not None]
