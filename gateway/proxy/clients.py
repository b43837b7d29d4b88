"""Proxy clients: credentials an admin issues to one tool, acting for one principal.

A proxy client is an ``appid``/``secret`` pair in WeChat's shape (``wxp`` + 16 hex digits, a
32-hex-digit secret), bound to one principal (the editor the tool acts for) and the accounts it
may use. The secret is shown once and kept only as a SHA-256 hash (128 random bits, so a fast
hash is enough), compared in constant time. The platform credentials in the vault never leave
the gateway: a tool only ever holds these.

Access tokens the proxy issues (:class:`ProxyTokens`) follow WeChat's semantics: ``expires_in``
seconds of life; the legacy ``token`` call supersedes the previous token, which keeps working
for a grace period; ``stable_token`` answers the same token until it nears its end unless
``force_refresh`` is asked for, which ends the previous one at once. Tokens are kept only as
hashes, with a TTL; an expired token is remembered a while longer so it answers "expired"
(42001) rather than "invalid" (40001), which is what makes SDKs fetch a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import redis.asyncio as aredis

from gateway.audit import Actor
from gateway.errors import Forbidden, NotFound, field_error
from gateway.keys import Keys, text
from gateway.principals import Principal
from gateway.services import Services, actor_of
from gateway.settings import ProxySettings

APPID_PREFIX = "wxp"
WEIBO_PREFIX = "wbp"  # a Weibo-kind client's id; it holds an access token, not a secret
PREFIXES = {"wechat": APPID_PREFIX, "weibo": WEIBO_PREFIX}
WEIBO_TOKEN_PREFIX = "2.00"  # Weibo's own access tokens start so; tools may check the shape
PUBLISHING_ROLES = ("editor", "unit_head", "brand_pr")

TokenCheck = Literal["ok", "invalid", "expired"]


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ProxyClient:
    appid: str
    name: str
    principal: str  # the principal id the tool acts for
    accounts: tuple[str, ...]
    source: str = ""  # the source (Art. 15) stated when a draft names no content_source_url
    category: str = "news"
    created_at: float = 0.0
    created_by: str = ""
    revoked: bool = False
    kind: str = "wechat"  # the platform surface it calls: "wechat" or "weibo"

    def public(self) -> dict[str, object]:
        return {**asdict(self), "accounts": list(self.accounts)}

    def acting(self, principal: Principal) -> Principal:
        """The principal as the desk and the audit log see it: named with this client."""
        name = f"{principal.name} (proxy {self.name} {self.appid})"
        return Principal(principal.id, name, principal.role, principal.unit, principal.created_at)


@dataclass(frozen=True)
class Caller:
    """A proxy call's client, the principal it acts as and the account it names."""

    client: ProxyClient
    principal: Principal  # as the desk and the audit log see it (named with the client)
    account: str

    def actor(self) -> Actor:
        p = self.principal
        return Actor(id=p.id, name=p.name, role=p.role, unit=p.unit)


@dataclass(frozen=True, slots=True)
class IssuedClient:
    client: ProxyClient
    secret: str = field(repr=False)  # the only time the secret exists outside the tool
    access_token: IssuedToken | None = field(default=None, repr=False)  # a Weibo-kind client's


class ProxyClientStore:
    def __init__(self, redis: aredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def create(
        self,
        *,
        name: str,
        principal: str,
        accounts: tuple[str, ...],
        source: str,
        category: str,
        created_by: str,
        kind: str = "wechat",
    ) -> IssuedClient:
        appid = PREFIXES[kind] + secrets.token_hex(8)
        secret = secrets.token_hex(16) if kind == "wechat" else ""
        client = ProxyClient(
            appid=appid,
            name=name,
            principal=principal,
            accounts=accounts,
            source=source,
            category=category,
            created_at=time.time(),
            created_by=created_by,
            kind=kind,
        )
        record = {**client.public(), "secret_sha256": _sha256(secret) if secret else ""}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.proxy_client(appid), json.dumps(record, ensure_ascii=False))
            pipe.sadd(self._keys.proxy_clients(), appid)
            await pipe.execute()
        return IssuedClient(client, secret)

    async def _record(self, appid: str) -> dict[str, Any] | None:
        if not appid.startswith((APPID_PREFIX, WEIBO_PREFIX)) or len(appid) > 64:
            return None
        raw = await self._redis.get(self._keys.proxy_client(appid))
        if raw is None:
            return None
        record: dict[str, Any] = json.loads(raw)
        return record

    @staticmethod
    def _client(record: dict[str, Any]) -> ProxyClient:
        data = {k: v for k, v in record.items() if k != "secret_sha256"}
        data["accounts"] = tuple(data["accounts"])
        return ProxyClient(**data)

    async def get(self, appid: str) -> ProxyClient | None:
        record = await self._record(appid)
        return self._client(record) if record is not None else None

    async def check_secret(self, appid: str, secret: str) -> tuple[ProxyClient | None, bool]:
        """(client, secret matches); the client is None for an unknown or revoked appid."""
        record = await self._record(appid)
        if record is None:
            hmac.compare_digest(_sha256(secret), _sha256(""))  # same work either way
            return None, False
        client = self._client(record)
        if client.revoked or client.kind != "wechat":
            return None, False
        return client, hmac.compare_digest(str(record["secret_sha256"]), _sha256(secret))

    async def revoke(self, appid: str) -> ProxyClient | None:
        record = await self._record(appid)
        if record is None:
            return None
        record["revoked"] = True
        await self._redis.set(
            self._keys.proxy_client(appid), json.dumps(record, ensure_ascii=False)
        )
        return self._client(record)

    async def list_all(self) -> list[ProxyClient]:
        appids = sorted(text(m) for m in await self._redis.smembers(self._keys.proxy_clients()))
        found = [await self.get(a) for a in appids]
        return [c for c in found if c is not None]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str = field(repr=False)
    expires_in: int


class ProxyTokens:
    """The gateway's own access tokens for proxy clients, kept hashed with a TTL."""

    def __init__(self, redis: aredis.Redis, keys: Keys, settings: ProxySettings) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings

    async def _keep(self, token: str, appid: str, pool: str, expires_at: float) -> None:
        record = {"appid": appid, "pool": pool, "expires_at": expires_at}
        ttl_s = max(1, int(expires_at - time.time() + self._settings.expired_token_memory_s))
        await self._redis.set(self._keys.proxy_token(_sha256(token)), json.dumps(record), ex=ttl_s)

    async def issue_legacy(self, appid: str) -> IssuedToken:
        """``/cgi-bin/token``: a new token; the previous one ends after the grace period."""
        now = time.time()
        pool_key = self._keys.proxy_token_pool(appid, "legacy")
        previous = await self._redis.get(pool_key)
        if previous is not None:
            key = self._keys.proxy_token(text(previous))
            raw = await self._redis.get(key)
            if raw is not None:
                record = json.loads(raw)
                record["expires_at"] = min(record["expires_at"], now + self._settings.token_grace_s)
                ttl_s = int(record["expires_at"] - now + self._settings.expired_token_memory_s)
                await self._redis.set(key, json.dumps(record), ex=max(1, ttl_s))
        token = secrets.token_urlsafe(96)
        expires_at = now + self._settings.token_ttl_s
        await self._keep(token, appid, "legacy", expires_at)
        await self._redis.set(pool_key, _sha256(token), ex=int(self._settings.token_ttl_s) + 1)
        return IssuedToken(token, int(self._settings.token_ttl_s))

    async def issue_stable(self, appid: str, secret: str, *, force: bool) -> IssuedToken:
        """``/cgi-bin/stable_token``: the same token while it has life left (derived from the
        secret the caller just proved and a nonce kept for the pool, so only its hash is kept);
        ``force`` starts a new one and ends the previous at once."""
        now = time.time()
        pool_key = self._keys.proxy_token_pool(appid, "stable")
        raw = await self._redis.get(pool_key)
        pool = json.loads(raw) if raw is not None else None
        if pool is not None and force:
            await self._redis.delete(self._keys.proxy_token(pool["token_sha256"]))
            pool = None
        if pool is not None and now < pool["expires_at"] - self._settings.token_grace_s:
            token = self._derive(secret, pool["nonce"])
            if hmac.compare_digest(_sha256(token), pool["token_sha256"]):
                return IssuedToken(token, int(pool["expires_at"] - now))
        nonce = secrets.token_hex(16)
        token = self._derive(secret, nonce)
        expires_at = now + self._settings.token_ttl_s
        await self._keep(token, appid, "stable", expires_at)
        pool = {"nonce": nonce, "token_sha256": _sha256(token), "expires_at": expires_at}
        await self._redis.set(pool_key, json.dumps(pool), ex=int(self._settings.token_ttl_s) + 1)
        return IssuedToken(token, int(self._settings.token_ttl_s))

    @staticmethod
    def _derive(secret: str, nonce: str) -> str:
        digest = hmac.new(secret.encode(), f"stable:{nonce}".encode(), hashlib.sha512).digest()
        return digest.hex()

    async def issue_weibo(self, appid: str) -> IssuedToken:
        """A Weibo-style access token (``2.00…``) for a Weibo-kind client, living
        ``weibo_token_ttl_s``; issuing a new one ends the previous one at once."""
        now = time.time()
        pool_key = self._keys.proxy_token_pool(appid, "weibo")
        previous = await self._redis.get(pool_key)
        if previous is not None:
            await self._redis.delete(self._keys.proxy_token(text(previous)))
        token = WEIBO_TOKEN_PREFIX + secrets.token_hex(20)
        expires_at = now + self._settings.weibo_token_ttl_s
        await self._keep(token, appid, "weibo", expires_at)
        await self._redis.set(
            pool_key, _sha256(token), ex=int(self._settings.weibo_token_ttl_s) + 1
        )
        return IssuedToken(token, int(self._settings.weibo_token_ttl_s))

    async def check(self, token: str) -> tuple[TokenCheck, str]:
        """("ok" | "invalid" | "expired", appid)."""
        if not token or len(token) > 512:
            return "invalid", ""
        raw = await self._redis.get(self._keys.proxy_token(_sha256(token)))
        if raw is None:
            return "invalid", ""
        record = json.loads(raw)
        if time.time() >= record["expires_at"]:
            return "expired", str(record["appid"])
        return "ok", str(record["appid"])


class CallBudget:
    """Calls per proxy client per minute and per day (fixed windows in the store)."""

    def __init__(self, redis: aredis.Redis, keys: Keys, settings: ProxySettings) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings

    async def spend(self, appid: str) -> Literal["ok", "minute", "day"]:
        now = time.time()
        minute = self._keys.proxy_rate(appid, f"m{int(now // 60)}")
        day = self._keys.proxy_rate(appid, f"d{int(now // 86400)}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(minute)
            pipe.expire(minute, 120)
            pipe.incr(day)
            pipe.expire(day, 2 * 86400)
            per_minute, _, per_day, _ = await pipe.execute()
        if per_day > self._settings.calls_per_day:
            return "day"
        if per_minute > self._settings.calls_per_minute:
            return "minute"
        return "ok"


async def issue_client(
    svc: Services,
    admin: Principal,
    *,
    name: str,
    principal_id: str,
    accounts: tuple[str, ...],
    source: str,
    category: str,
    request_id: str = "",
    kind: str = "wechat",
) -> IssuedClient:
    """Create a proxy client for ``principal_id`` and ``accounts`` (audited before it exists).

    Raises :class:`NotFound` (``principal``, an account) and :class:`Forbidden` (a principal
    that does not publish, a revoked one, an account of a unit it may not publish to).
    """
    from gateway.gate import acts_for

    principal = await svc.principals.get(principal_id)
    if principal is None or principal.revoked:
        raise NotFound(f"no active principal {principal_id!r}", field="principal")
    if principal.role not in PUBLISHING_ROLES:
        raise Forbidden(
            f"a proxy client acts for someone who publishes ({', '.join(PUBLISHING_ROLES)}); "
            f"{principal.id} is {principal.role}",
            reason="wrong_role",
            field="principal",
        )
    for i, account_id in enumerate(accounts):
        account = await svc.accounts.get(account_id)
        if account is None:
            raise NotFound(f"no account {account_id!r}", field=f"accounts[{i}]")
        if account.platform != kind:
            raise field_error(
                f"accounts[{i}]", f"a {kind} proxy client serves {kind} accounts only"
            )
        if not acts_for(svc.settings.policy, principal, account.unit):
            raise Forbidden(
                f"{principal.id} ({principal.role} of {principal.unit}) may not publish to "
                f"{account.id} of unit {account.unit}",
                reason="wrong_unit",
                field=f"accounts[{i}]",
            )
    await svc.audit.append(
        actor=actor_of(admin),
        action="proxy.client.create",
        target=principal.id,
        request_id=request_id,
        details={"name": name, "principal": principal.id, "accounts": list(accounts), "kind": kind},
    )
    issued = await ProxyClientStore(svc.redis, svc.keys).create(
        name=name,
        principal=principal.id,
        accounts=accounts,
        source=source,
        category=category,
        created_by=admin.id,
        kind=kind,
    )
    if kind == "weibo":
        tokens = ProxyTokens(svc.redis, svc.keys, svc.settings.proxy)
        issued = IssuedClient(issued.client, "", await tokens.issue_weibo(issued.client.appid))
    await svc.audit.append(
        actor=actor_of(admin),
        action="proxy.client.created",
        target=issued.client.appid,
        request_id=request_id,
        details={"proxy_client": issued.client.appid, "principal": principal.id},
    )
    return issued
