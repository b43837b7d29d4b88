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


# The same window, and the value of KEYS[2] read in the same round trip (the caller's API key
# record: the per-address limit comes before authentication, which needs that record next).
_WINDOW_AND_GET_LUA = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl, redis.call('GET', KEYS[2])}
"""


class RateLimiter:
    def __init__(self, redis: aredis.Redis, keys: Keys, settings: RateLimitSettings) -> None:
        self._keys = keys
        self._settings = settings
        self._script = redis.register_script(_WINDOW_LUA)
        self._script_and_get = redis.register_script(_WINDOW_AND_GET_LUA)
        self._redis = redis

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    async def hit_ip(self, address: str) -> None:
        await self._hit("ip", address, self._settings.per_ip_per_window)

    async def hit_ip_reading(self, address: str, key: str) -> bytes | str | None:
        """:meth:`hit_ip`, and the value stored at ``key`` read in the same round trip."""
        limit = self._settings.per_ip_per_window
        if not self._settings.enabled or limit <= 0:
            value: bytes | str | None = await self._redis.get(key)
            return value
        count, ttl_ms, value = await self._script_and_get(
            keys=[self._keys.rate_limit("ip", address), key],
            args=[int(self._settings.window_s * 1000)],
        )
        self._judge("ip", limit, count, ttl_ms)
        return value

    async def hit_key(self, key_id: str) -> None:
        await self._hit("key", key_id, self._settings.per_key_per_window)

    async def _hit(self, scope: str, ident: str, limit: int) -> None:
        if not self._settings.enabled or limit <= 0:
            return
        window_ms = int(self._settings.window_s * 1000)
        count, ttl_ms = await self._script(
            keys=[self._keys.rate_limit(scope, ident)], args=[window_ms]
        )
        self._judge(scope, limit, count, ttl_ms)

    def _judge(self, scope: str, limit: int, count: int, ttl_ms: int) -> None:
        if int(count) > limit:
            retry_after_s = max(1, math.ceil(int(ttl_ms) / 1000))
            raise TooManyRequests(
                f"more than {limit} requests per {self._settings.window_s:g} s for this "
                f"{'API key' if scope == 'key' else 'address'}; retry in {retry_after_s} s",
                reason=f"{scope}_rate_limit",
                retry_after_s=retry_after_s,
            )
