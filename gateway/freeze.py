"""Emergency stop (Art. 8): freeze one account, a whole unit, or everything.

A freeze is checked on every publish and again by the delivery worker right before each
platform call, so freezing stops jobs that were already approved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import redis.asyncio as aredis

from gateway.keys import Keys

if TYPE_CHECKING:
    from gateway.audit import Actor
    from gateway.services import Services

Scope = Literal["account", "unit", "all"]


@dataclass(frozen=True, slots=True)
class FreezeRecord:
    scope: str
    id: str
    reason: str
    by: str
    at: float

    def public(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "id": self.id,
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
        }


def _field(scope: str, target: str) -> str:
    return f"{scope}:{target}"


# The account record and the freeze that stops publishing to it, in one step: KEYS account
# record, freezes hash; ARGV the account id. The unit comes from the record itself.
_ACCOUNT_AND_FREEZE_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {false, false} end
local ok, account = pcall(cjson.decode, raw)
local unit = ''
if ok and type(account) == 'table' and type(account['unit']) == 'string' then
  unit = account['unit']
end
local found = redis.call('HMGET', KEYS[2], 'all:*', 'unit:' .. unit, 'account:' .. ARGV[1])
for i = 1, 3 do
  if found[i] then return {raw, found[i]} end
end
return {raw, false}
"""


class FreezeSwitch:
    def __init__(self, redis: aredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._account_and_freeze = redis.register_script(_ACCOUNT_AND_FREEZE_LUA)

    async def freeze(self, scope: Scope, target: str, *, reason: str, by: str) -> FreezeRecord:
        record = FreezeRecord(scope, target if scope != "all" else "*", reason, by, time.time())
        await self._redis.hset(
            self._keys.freezes(),
            _field(scope, record.id),
            json.dumps(record.public(), ensure_ascii=False),
        )
        return record

    async def unfreeze(self, scope: Scope, target: str) -> bool:
        target = target if scope != "all" else "*"
        return bool(await self._redis.hdel(self._keys.freezes(), _field(scope, target)))

    async def list_all(self) -> list[FreezeRecord]:
        raw = await self._redis.hgetall(self._keys.freezes())
        return [FreezeRecord(**json.loads(v)) for _, v in sorted(raw.items())]

    async def blocking(self, *, account: str, unit: str) -> FreezeRecord | None:
        """The freeze that stops a publish to ``account`` of ``unit``, if any."""
        fields = [_field("all", "*"), _field("unit", unit), _field("account", account)]
        values = await self._redis.hmget(self._keys.freezes(), fields)
        for value in values:
            if value:
                return FreezeRecord(**json.loads(value))
        return None

    async def account_and_blocking(self, account: str) -> tuple[bytes | None, FreezeRecord | None]:
        """The stored record of ``account`` (None if there is none) and, read in the same round
        trip, the freeze that stops a publish to it (:meth:`blocking` for its unit)."""
        raw, freeze = await self._account_and_freeze(
            keys=[self._keys.account(account), self._keys.freezes()], args=[account]
        )
        return raw, FreezeRecord(**json.loads(freeze)) if freeze else None


async def freeze_audited(
    svc: Services,
    actor: Actor,
    scope: Scope,
    target: str,
    *,
    reason: str,
    request_id: str = "",
    details: Mapping[str, Any] | None = None,
) -> FreezeRecord:
    """Audit a freeze (action ``freeze``, target ``scope:id``, the reason), then apply it: the
    one way every freeze is made (``POST /admin/freeze``, the console's 冻结, an alert's freeze
    in :mod:`gateway.watch.actions`). If the record cannot be written nothing is frozen (503)."""
    try:
        await svc.audit.append(
            actor=actor,
            action="freeze",
            target=f"{scope}:{target or '*'}",
            reasons=[reason],
            request_id=request_id,
            details=details,
        )
    except Exception:
        svc.metrics.audit_failures.inc()
        raise
    return await svc.freeze.freeze(scope, target, reason=reason, by=actor.id)
