"""Account registry (Art. 7): filing, Brand-PR approval, versioned changes.

An account is ``pending`` when a unit head files it and becomes ``active`` only when a
``brand_pr`` principal approves the filing. Every change is a new version; the old snapshot is
kept. Nothing is forwarded to an account that is not ``active`` (see :mod:`gateway.freeze` for
the emergency stop).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import redis.asyncio as aredis

from gateway.errors import Conflict, NotFound
from gateway.keys import Keys, text

AccountState = Literal["pending", "active", "rejected", "retired"]
ACCOUNT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    platform: str
    name: str
    unit: str
    state: AccountState = "pending"
    operators: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    version: int = 1
    filed_by: str = ""
    filed_at: float = 0.0
    approved_by: str = ""
    approved_at: float = 0.0
    note: str = ""

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["operators"] = list(self.operators)
        data["settings"] = dict(self.settings)
        return data

    @classmethod
    def from_json(cls, raw: bytes | str) -> Account:
        data = json.loads(raw)
        data["operators"] = tuple(data.get("operators", ()))
        return cls(**data)


def _dump(account: Account) -> str:
    return json.dumps(account.public(), ensure_ascii=False, sort_keys=True)


def required(account_id: str, raw: bytes | str | None) -> Account:
    """The account a stored record describes; 404 naming the field when there is none."""
    if not raw:
        raise NotFound(f"no account {account_id!r}", field="account")
    return Account.from_json(raw)


class AccountRegistry:
    def __init__(self, redis: aredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def get(self, account_id: str) -> Account | None:
        raw = await self._redis.get(self._keys.account(account_id))
        return Account.from_json(raw) if raw else None

    async def require(self, account_id: str) -> Account:
        return required(account_id, await self._redis.get(self._keys.account(account_id)))

    async def list_all(self, *, unit: str | None = None, state: str | None = None) -> list[Account]:
        ids = sorted(text(m) for m in await self._redis.smembers(self._keys.accounts()))
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.account(i) for i in ids])
        found = [Account.from_json(r) for r in raws if r]
        return [
            a
            for a in found
            if (unit is None or a.unit == unit) and (state is None or a.state == state)
        ]

    async def check_filing(self, account_id: str, *, platform: str, unit: str) -> Account | None:
        """Refuse a re-filing that would move an account to another unit or platform."""
        old = await self.get(account_id)
        if old and old.unit != unit:
            raise Conflict(f"account {account_id!r} belongs to unit {old.unit!r}", field="unit")
        if old and old.platform != platform:
            raise Conflict(f"account {account_id!r} is on {old.platform!r}", field="platform")
        return old

    async def check_pending(self, account_id: str) -> Account:
        account = await self.require(account_id)
        if account.state != "pending":
            raise Conflict(
                f"account {account_id!r} is {account.state}, not pending", state=account.state
            )
        return account

    async def file(
        self,
        *,
        account_id: str,
        platform: str,
        name: str,
        unit: str,
        operators: Sequence[str],
        settings: Mapping[str, Any],
        filed_by: str,
        note: str = "",
    ) -> Account:
        """File a new account, or re-file changes to an existing one (back to ``pending``)."""
        key = self._keys.account(account_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    old = Account.from_json(raw) if raw else None
                    if old and old.unit != unit:
                        raise Conflict(
                            f"account {account_id!r} belongs to unit {old.unit!r}", field="unit"
                        )
                    if old and old.platform != platform:
                        raise Conflict(
                            f"account {account_id!r} is on {old.platform!r}", field="platform"
                        )
                    account = Account(
                        id=account_id,
                        platform=platform,
                        name=name,
                        unit=unit,
                        state="pending",
                        operators=tuple(operators),
                        settings=dict(settings),
                        version=(old.version + 1) if old else 1,
                        filed_by=filed_by,
                        filed_at=time.time(),
                        note=note,
                    )
                    pipe.multi()
                    if old:
                        pipe.rpush(self._keys.account_versions(account_id), _dump(old))
                    pipe.set(key, _dump(account))
                    pipe.sadd(self._keys.accounts(), account_id)
                    await pipe.execute()
                    return account
                except aredis.WatchError:
                    continue

    async def decide(self, account_id: str, *, approve: bool, by: str, note: str = "") -> Account:
        """Brand-PR's decision on a pending filing."""
        key = self._keys.account(account_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise NotFound(f"no account {account_id!r}")
                    old = Account.from_json(raw)
                    if old.state != "pending":
                        raise Conflict(
                            f"account {account_id!r} is {old.state}, not pending", state=old.state
                        )
                    new = replace(
                        old,
                        state="active" if approve else "rejected",
                        approved_by=by,
                        approved_at=time.time(),
                        note=note or old.note,
                    )
                    pipe.multi()
                    pipe.set(key, _dump(new))
                    await pipe.execute()
                    return new
                except aredis.WatchError:
                    continue

    async def versions(self, account_id: str) -> list[Account]:
        raws = await self._redis.lrange(self._keys.account_versions(account_id), 0, -1)
        return [Account.from_json(r) for r in raws]
