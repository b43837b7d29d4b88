"""The gateway's parts, assembled once per app and shared by the handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis.asyncio as aredis

from gateway.accounts import AccountRegistry
from gateway.audit import Actor, AuditLog
from gateway.errors import ServiceUnavailable
from gateway.freeze import FreezeSwitch
from gateway.keys import Keys
from gateway.metrics import Metrics
from gateway.principals import Principal, PrincipalStore
from gateway.ratelimit import RateLimiter
from gateway.settings import Settings
from gateway.vault import Vault


@dataclass
class HealthRegistry:
    """What ``/healthz`` asks besides Redis, audit and the vault, registered by the parts."""

    probes: dict[str, Callable[[], Awaitable[bool]]] = field(default_factory=dict)
    info: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    required: tuple[str, ...] = ()


@dataclass
class Services:
    settings: Settings
    redis: aredis.Redis
    keys: Keys
    principals: PrincipalStore
    accounts: AccountRegistry
    freeze: FreezeSwitch
    audit: AuditLog
    metrics: Metrics
    vault_: Vault | None = None
    vault_problem: str = ""
    health: HealthRegistry = field(default_factory=HealthRegistry)

    @cached_property
    def limiter(self) -> RateLimiter:
        return RateLimiter(self.redis, self.keys, self.settings.rate_limits)

    @property
    def vault(self) -> Vault:
        """The vault, or 503: without a master key nothing that needs credentials runs."""
        if self.vault_ is None:
            raise ServiceUnavailable(
                f"the credential vault is unavailable: {self.vault_problem}",
                reason="vault_unavailable",
            )
        return self.vault_


def actor_of(principal: Principal) -> Actor:
    return Actor(id=principal.id, name=principal.name, role=principal.role, unit=principal.unit)
