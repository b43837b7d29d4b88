"""``create_app``: assembles the gateway from settings and resolved secrets. No I/O here.

Resources (the Redis pool and the services built on it, later the screening executor, the
outbound HTTP session, connectors and the delivery worker) each live in one ``cleanup_ctx``
generator, opened in order when the app starts and closed in reverse order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aredis
from aiohttp import web

from gateway.accounts import AccountRegistry
from gateway.appkeys import SERVICES, SETTINGS
from gateway.audit import AuditLog
from gateway.freeze import FreezeSwitch
from gateway.keys import Keys
from gateway.metrics import Metrics
from gateway.middleware import ROUTE_ROLES, auth, metrics, problems, request_id
from gateway.principals import PrincipalStore
from gateway.routes import ROUTES, add_routes
from gateway.services import Services
from gateway.settings import Settings
from gateway.vault import MasterKey, Vault

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


@dataclass(frozen=True)
class Runtime:
    """What the edge (``run.py``) resolved: where Redis is, and the secrets from env/files."""

    redis_url: str
    master_key: MasterKey | None = None
    old_master_keys: Sequence[MasterKey] = ()
    vault_problem: str = "no master key configured (MEDIAGATE_MASTER_KEY)"
    signing_key_pem: bytes = field(default=b"", repr=False)
    extra_contexts: Sequence[CleanupCtx] = ()


def _store_ctx(runtime: Runtime) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        client = aredis.Redis.from_url(
            runtime.redis_url,
            max_connections=settings.store.max_connections,
            socket_timeout=settings.store.socket_timeout_s,
            socket_connect_timeout=settings.store.socket_timeout_s,
            health_check_interval=30,
        )
        keys = Keys(settings.store.key_prefix)
        vault = (
            Vault(client, keys, runtime.master_key, runtime.old_master_keys)
            if runtime.master_key
            else None
        )
        app[SERVICES] = Services(
            settings=settings,
            redis=client,
            keys=keys,
            principals=PrincipalStore(client, keys),
            accounts=AccountRegistry(client, keys),
            freeze=FreezeSwitch(client, keys),
            audit=AuditLog(client, keys),
            metrics=Metrics(),
            vault_=vault,
            vault_problem="" if vault else runtime.vault_problem,
        )
        app[SERVICES].extras["runtime"] = runtime
        try:
            yield
        finally:
            await client.aclose()

    return ctx


def create_app(settings: Settings, runtime: Runtime) -> web.Application:
    app = web.Application(
        middlewares=[request_id, problems, metrics, auth],
        client_max_size=settings.limits.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[ROUTE_ROLES] = add_routes(app, ROUTES)
    app.cleanup_ctx.append(_store_ctx(runtime))
    for extra in runtime.extra_contexts:
        app.cleanup_ctx.append(extra)
    return app
