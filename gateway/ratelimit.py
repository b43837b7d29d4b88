"""Per-key and per-IP request limits kept in the store, so every gateway process shares them.

A fixed window per caller: one Lua script increments the window's counter and gives its
remaining time in one round trip. Over the limit, the caller gets 429 with ``Retry-After``
(seconds until the window ends). No store, no answer: a Redis error fails closed as 503 like
every other store outage.
"""

from __future__ import annotations

import math

import redis.asyncio as aredis

from gateway.errors import TooManyRequests
from gateway.keys import Keys
from gateway.settings import RateLimitSettings

_WINDOW_LUA = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class RateLimiter:
    def __init__(self, redis: aredis.Redis, keys: Keys, settings: RateLimitSettings) -> None:
        self._keys = keys
        self._settings = settings
        self._script = redis.register_script(_WINDOW_LUA)

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    async def hit_ip(self, address: str) -> None:
        await self._hit("ip", address, self._settings.per_ip_per_window)

    async def hit_key(self, key_id: str) -> None:
        await self._hit("key", key_id, self._settings.per_key_per_window)

    async def _hit(self, scope: str, ident: str, limit: int) -> None:
        if not self._settings.enabled or limit <= 0:
            return
        window_ms = int(self._settings.window_s * 1000)
        count, ttl_ms = await self._script(
            keys=[self._keys.rate_limit(scope, ident)], args=[window_ms]
        )
        if int(count) > limit:
            retry_after_s = max(1, math.ceil(int(ttl_ms) / 1000))
            raise TooManyRequests(
                f"more than {limit} requests per {self._settings.window_s:g} s for this "
                f"{'API key' if scope == 'key' else 'address'}; retry in {retry_after_s} s",
                reason=f"{scope}_rate_limit",
                retry_after_s=retry_after_s,
            )
