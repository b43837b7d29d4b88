"""Per-key and per-IP request limits kept in the store, so every gateway process shares them.

A fixed window per caller: one Lua script increments the window's counter and gives its
remaining time in one round trip. Over the limit, the caller gets 429 with ``Retry-After``
(seconds until the window ends). No store, no answer: a Redis error fails closed as 503 like
every other store outage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


# The per-address window, the presented API key's record (KEYS[2]) and, when that record holds
# the presented secret's hash (ARGV[3]) and is not revoked, the key's own window (KEYS[3]): one
# round trip for what the per-address limit, authentication and the per-key limit need. The
# key is counted only where it would authenticate (ARGV[5]: the key id the record must name),
# and not once the address is over its limit (ARGV[2]; 0: no per-address limit) - as if the
# per-key window were hit after authentication. ARGV[4]: the per-key limit (0: not counted).
_WINDOWS_AND_KEY_LUA = """
local window = ARGV[1]
local function hit(key)
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = tonumber(window)
  end
  return n, ttl
end
local n, ttl = 0, 0
if tonumber(ARGV[2]) > 0 then n, ttl = hit(KEYS[1]) end
local raw = redis.call('GET', KEYS[2])
if not raw or tonumber(ARGV[4]) <= 0 or (tonumber(ARGV[2]) > 0 and n > tonumber(ARGV[2])) then
  return {n, ttl, raw}
end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record) ~= 'table' or record['secret_sha256'] ~= ARGV[3]
    or record['id'] ~= ARGV[5] then
  return {n, ttl, raw}
end
local revoked = record['revoked']
if revoked ~= nil and revoked ~= false then return {n, ttl, raw} end
local key_n, key_ttl = hit(KEYS[3])
return {n, ttl, raw, key_n, key_ttl}
"""


@dataclass(frozen=True, slots=True)
class KeyRead:
    """:meth:`RateLimiter.hit_ip_and_key`: the presented key's stored record, and its per-key
    window (count, ms left) if it was hit in the same round trip (None: not counted yet)."""

    key_id: str
    record: bytes | str | None
    key_window: tuple[int, int] | None = None


class RateLimiter:
    def __init__(self, redis: aredis.Redis, keys: Keys, settings: RateLimitSettings) -> None:
        self._keys = keys
        self._settings = settings
        self._script = redis.register_script(_WINDOW_LUA)
        self._windows_and_key = redis.register_script(_WINDOWS_AND_KEY_LUA)
        self._redis = redis

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    async def hit_ip(self, address: str) -> None:
        await self._hit("ip", address, self._settings.per_ip_per_window)

    async def hit_ip_and_key(
        self, address: str, key_id: str, record_key: str, secret_sha256: str
    ) -> KeyRead:
        """:meth:`hit_ip`, and in the same round trip the stored record of API key ``key_id``
        (at ``record_key``) and :meth:`hit_key` for that key if the record holds ``secret_sha256``
        and is not revoked (i.e. where authentication will accept it): the caller judges that
        window with :meth:`judge_key` once it has authenticated the key, or hits it then if
        it was not counted here."""
        settings = self._settings
        if not settings.enabled:
            return KeyRead(key_id, await self._redis.get(record_key))
        ip_limit, key_limit = max(0, settings.per_ip_per_window), settings.per_key_per_window
        found = await self._windows_and_key(
            keys=[
                self._keys.rate_limit("ip", address),
                record_key,
                self._keys.rate_limit("key", key_id),
            ],
            args=[
                int(settings.window_s * 1000),
                ip_limit,
                secret_sha256,
                max(0, key_limit),
                key_id,
            ],
        )
        if ip_limit > 0:
            self._judge("ip", ip_limit, found[0], found[1])
        window = (int(found[3]), int(found[4])) if len(found) == 5 else None
        return KeyRead(key_id, found[2], window)

    async def hit_key(self, key_id: str) -> None:
        await self._hit("key", key_id, self._settings.per_key_per_window)

    def judge_key(self, window: tuple[int, int]) -> None:
        """429 if the per-key ``window`` (count, ms left) read by :meth:`hit_ip_and_key` is over
        the limit."""
        self._judge("key", self._settings.per_key_per_window, *window)

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
