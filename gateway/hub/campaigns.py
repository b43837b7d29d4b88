"""Linked campaigns (Art. 13): Brand-PR sets a theme, the units adapt it for their accounts.

A campaign names its title, brief, key messages, reference material, the participating units,
optionally the accounts, and a due time. Each unit's editors submit their adaptation on the
desk with ``"campaign": id``, through their own approvals. The board shows, per unit and
account, ``not_started``, ``awaiting_approval``, ``published`` (with the URL) or ``overdue``.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aredis

from gateway.authz import covers, route_up, unit_chain
from gateway.desk.model import Submission
from gateway.desk.store import SubmissionStore
from gateway.errors import NotFound, field_error
from gateway.keys import Keys, text
from gateway.principals import Principal
from gateway.services import Services, actor_of
from gateway.validation import expect_keys, take_str, take_str_list

READ_ALL_ROLES = frozenset({"brand_pr", "auditor", "admin"})
MAX_UNITS = 50
MAX_ACCOUNTS = 100
#: How long before the due time units that have not started are reminded.
REMIND_BEFORE_S = 24 * 3600.0
WAITING = frozenset({"awaiting_approval", "approved", "publishing"})


def new_campaign_id() -> str:
    return "cmp_" + secrets.token_hex(6)


@dataclass(frozen=True)
class Campaign:
    id: str
    title: str
    brief: str
    units: tuple[str, ...]
    due_at: float
    created_by: str
    created_at: float
    key_messages: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        for k in ("units", "key_messages", "references", "accounts"):
            data[k] = list(data[k])
        return data

    def dump(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Campaign:
        data = json.loads(raw)
        for k in ("units", "key_messages", "references", "accounts"):
            data[k] = tuple(data.get(k, ()))
        return cls(**data)


def parse_campaign(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``POST /v1/campaigns`` (``due_at`` already parsed by the handler)."""
    expect_keys(
        data, "", ("title", "brief", "key_messages", "references", "units", "accounts", "due_at")
    )
    units = take_str_list(data, "units", max_items=MAX_UNITS, max_chars=64)
    if not units:
        raise field_error("units", "name at least one participating unit")
    return {
        "title": take_str(data, "title", max_chars=200, min_chars=1),
        "brief": take_str(data, "brief", max_chars=20_000, min_chars=1),
        "key_messages": tuple(
            take_str_list(data, "key_messages", required=False, max_items=20, max_chars=500)
        ),
        "references": tuple(
            take_str_list(data, "references", required=False, max_items=20, max_chars=2000)
        ),
        "units": tuple(dict.fromkeys(units)),
        "accounts": tuple(
            dict.fromkeys(
                take_str_list(
                    data, "accounts", required=False, max_items=MAX_ACCOUNTS, max_chars=64
                )
            )
        ),
    }


class CampaignService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._redis = svc.redis
        self._keys = svc.keys
        self._subs = SubmissionStore(svc.redis, svc.keys)

    async def create(
        self, principal: Principal, fields: dict[str, Any], due_at: float, request_id: str = ""
    ) -> Campaign:
        """Brand-PR opens a campaign; units and accounts must exist, ``due_at`` lie ahead."""
        policy = self.svc.settings.policy
        for i, unit in enumerate(fields["units"]):
            if unit not in policy.units:
                raise field_error(f"units[{i}]", f"no unit {unit!r}")
        for i, account_id in enumerate(fields["accounts"]):
            account = await self.svc.accounts.get(account_id)
            if account is None:
                raise field_error(f"accounts[{i}]", f"no account {account_id!r}")
            if not any(_reaches(policy, u, account.unit) for u in fields["units"]):
                raise field_error(
                    f"accounts[{i}]",
                    f"no participating unit may submit to {account_id} (unit {account.unit})",
                )
        if due_at <= time.time():
            raise field_error("due_at", "must lie in the future")
        campaign = Campaign(
            id=new_campaign_id(),
            due_at=due_at,
            created_by=principal.id,
            created_at=time.time(),
            **fields,
        )
        try:
            await self.svc.audit.append(
                actor=actor_of(principal),
                action="campaign.create",
                target=campaign.id,
                request_id=request_id,
                decision="created",
                details={"title": campaign.title, "units": list(campaign.units)},
            )
        except Exception:
            self.svc.metrics.audit_failures.inc()
            raise
        await save_campaign(self._redis, self._keys, campaign)
        return campaign

    def may_read(self, principal: Principal, campaign: Campaign) -> bool:
        policy = self.svc.settings.policy
        return principal.role in READ_ALL_ROLES or any(
            covers(policy, principal, u) or u in unit_chain(policy, principal.unit)
            for u in campaign.units
        )

    async def get(self, principal: Principal, campaign_id: str) -> Campaign:
        raw = await self._redis.get(self._keys.campaign(campaign_id))
        campaign = Campaign.from_json(raw) if raw else None
        if campaign is None or not self.may_read(principal, campaign):
            raise NotFound(f"no campaign {campaign_id!r}")
        return campaign

    async def all(self, limit: int = 500) -> list[Campaign]:
        ids: list[Any] = await self._redis.zrevrange(self._keys.campaigns(), 0, limit - 1)
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.campaign(text(i)) for i in ids])
        return [Campaign.from_json(r) for r in raws if r]

    async def list_for(self, principal: Principal) -> list[Campaign]:
        return [c for c in await self.all() if self.may_read(principal, c)]

    async def board(self, campaign: Campaign, now: float | None = None) -> list[dict[str, Any]]:
        """One row per participating unit and account: its state and the submission behind it."""
        now = time.time() if now is None else now
        policy = self.svc.settings.policy
        linked = [s for s in await self._subs.newest(limit=5000) if s.campaign == campaign.id]
        rows: list[dict[str, Any]] = []
        for unit in campaign.units:
            targets = [
                a
                for a in campaign.accounts
                if (acc := await self.svc.accounts.get(a)) and _reaches(policy, unit, acc.unit)
            ] or [""]
            mine = [s for s in linked if unit in unit_chain(policy, s.submitter_unit)]
            for account in targets:
                subs = [s for s in mine if not account or account in s.accounts]
                rows.append(_row(unit, account, subs, campaign.due_at, now))
        return rows


async def save_campaign(redis: aredis.Redis, keys: Keys, campaign: Campaign) -> None:
    """Keep ``campaign`` (the service after its checks and audit; the demo's seed)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keys.campaign(campaign.id), campaign.dump())
        pipe.zadd(keys.campaigns(), {campaign.id: campaign.created_at})
        await pipe.execute()


def _reaches(policy: Any, unit: str, account_unit: str) -> bool:
    """Whether editors of ``unit`` submit to accounts of ``account_unit`` (own, below, or up)."""
    return unit in unit_chain(policy, account_unit) or route_up(policy, unit, account_unit)


def _row(
    unit: str, account: str, subs: list[Submission], due_at: float, now: float
) -> dict[str, Any]:
    current = [s for s in subs if s.state != "superseded"]
    published = next((s for s in current if s.state == "published"), None)
    waiting = next((s for s in current if s.state in WAITING), None)
    url = ""
    sub: Submission | None
    if published is not None:
        job = next((j for j in published.jobs if not account or j.account == account), None)
        url = job.url if job else ""
        state, sub = "published", published
    elif waiting is not None:
        state, sub = "awaiting_approval", waiting
    else:
        state, sub = "not_started", (current[0] if current else None)
    if state != "published" and now > due_at:
        state = "overdue"
    return {
        "unit": unit,
        "account": account or None,
        "state": state,
        "submission": sub.id if sub else None,
        "submission_state": sub.state if sub else None,
        "url": url or None,
    }
