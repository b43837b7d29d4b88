"""Console sessions: an API key exchanged once for a random cookie, kept in the store.

The cookie holds 256 random bits; the store keeps only their SHA-256 (so whoever reads the store
cannot ride a session), the principal's key id, a CSRF token bound to the session, and the two
clocks that end it: ``session_ttl_s`` after login and ``idle_timeout_s`` after the last request.
The principal is looked up again on every request, so revoking the API key ends its sessions.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass

import redis.asyncio as aredis

from gateway.keys import Keys
from gateway.principals import Principal, PrincipalStore
from gateway.settings import ConsoleSettings

COOKIE = "mg_console"
_SID_RE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_SID_CHARS = 64


@dataclass(frozen=True, slots=True)
class Session:
    principal_id: str
    csrf: str
    created_at: float
    expires_at: float  # the absolute end (login + session_ttl_s)


@dataclass(frozen=True, slots=True)
class Active:
    """A live session with the principal it stands for."""

    sid: str
    session: Session
    principal: Principal


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _plausible(sid: str) -> bool:
    return 0 < len(sid) <= _MAX_SID_CHARS and set(sid) <= _SID_RE_CHARS


class SessionStore:
    def __init__(
        self,
        redis: aredis.Redis,
        keys: Keys,
        principals: PrincipalStore,
        settings: ConsoleSettings,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._principals = principals
        self._settings = settings

    async def login(self, api_key: str) -> Active | None:
        """A new session for the holder of ``api_key``; ``None`` if the key is unknown/revoked."""
        principal = await self._principals.authenticate(api_key)
        if principal is None:
            return None
        now = time.time()
        sid = secrets.token_urlsafe(32)
        session = Session(
            principal_id=principal.id,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + self._settings.session_ttl_s,
        )
        await self._redis.set(
            self._keys.console_session(_digest(sid)),
            json.dumps(asdict(session)),
            ex=self._ttl_s(session, now),
        )
        return Active(sid, session, principal)

    def _ttl_s(self, session: Session, now: float) -> int:
        left_s = session.expires_at - now
        return max(1, int(min(left_s, self._settings.idle_timeout_s)))

    async def resume(self, sid: str) -> Active | None:
        """The live session behind cookie value ``sid`` (its idle clock restarted), or ``None``."""
        if not _plausible(sid):
            return None
        key = self._keys.console_session(_digest(sid))
        raw = await self._redis.get(key)
        if raw is None:
            return None
        session = Session(**json.loads(raw))
        now = time.time()
        if now >= session.expires_at:
            await self._redis.delete(key)
            return None
        principal = await self._principals.get(session.principal_id)
        if principal is None or principal.revoked:
            await self._redis.delete(key)
            return None
        await self._redis.expire(key, self._ttl_s(session, now))
        return Active(sid, session, principal)

    async def logout(self, sid: str) -> None:
        if _plausible(sid):
            await self._redis.delete(self._keys.console_session(_digest(sid)))
