"""Separation of duties for keys: granting a role that approves (or administers) takes two people.

An admin *proposes* a unit_head, leader, brand_pr or admin key; a second person *confirms* it:
Brand-PR or another admin, never the proposer. Only the confirmation creates the principal and
its key (shown once, to the confirmer, who hands it over). Without this one admin could mint the
unit head, the leader and Brand-PR keys a post needs and publish it alone. Editors and auditors
approve nothing and are created at once. ``run.py keys create`` on the host stays as the
break-glass path for bootstrapping (audited as ``key.create`` by ``cli``).

Proposals live in the store with a TTL; every step is audited by the handler before it happens.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass

import redis.asyncio as aredis

from gateway.errors import Conflict, Forbidden, NotFound
from gateway.keys import Keys, text
from gateway.principals import IssuedKey, Principal, PrincipalStore

TWO_PERSON_ROLES = frozenset({"unit_head", "leader", "brand_pr", "admin"})
CONFIRMER_ROLES = frozenset({"admin", "brand_pr"})
PROPOSAL_TTL_S = 7 * 24 * 3600

# Take a proposal once: the first confirmation (or rejection) wins.
_TAKE_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return raw
"""


@dataclass(frozen=True, slots=True)
class KeyProposal:
    id: str
    name: str
    role: str
    unit: str
    proposed_by: str
    proposed_at: float
    expires_at: float

    def public(self) -> dict[str, object]:
        return {**asdict(self), "state": "proposed"}


class KeyGrants:
    def __init__(self, redis: aredis.Redis, keys: Keys, principals: PrincipalStore) -> None:
        self._redis = redis
        self._keys = keys
        self._principals = principals
        self._take_script = redis.register_script(_TAKE_LUA)

    @staticmethod
    def needs_second_person(role: str) -> bool:
        return role in TWO_PERSON_ROLES

    async def propose(self, by: Principal, *, name: str, role: str, unit: str) -> KeyProposal:
        await self._principals.check_name(name)
        for pending in await self.list_pending():
            if pending.name == name:
                raise Conflict(
                    f"a key for {name!r} is already proposed ({pending.id})",
                    errors=[{"field": "name", "message": "already proposed"}],
                )
        now = time.time()
        proposal = KeyProposal(
            id=secrets.token_hex(8),
            name=name,
            role=role,
            unit=unit,
            proposed_by=by.id,
            proposed_at=now,
            expires_at=now + PROPOSAL_TTL_S,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(
                self._keys.key_proposal(proposal.id),
                json.dumps(asdict(proposal), ensure_ascii=False),
                ex=PROPOSAL_TTL_S,
            )
            pipe.sadd(self._keys.key_proposals(), proposal.id)
            await pipe.execute()
        return proposal

    async def get(self, proposal_id: str) -> KeyProposal:
        raw = await self._redis.get(self._keys.key_proposal(proposal_id))
        if raw is None:
            raise NotFound(f"no pending key proposal {proposal_id!r}")
        return KeyProposal(**json.loads(raw))

    def check_confirmer(self, proposal: KeyProposal, by: Principal) -> None:
        """403 unless ``by`` is a second person allowed to confirm."""
        if by.id == proposal.proposed_by:
            raise Forbidden(
                "the proposer cannot confirm their own proposal: a second person must",
                reason="same_person",
            )
        if by.role not in CONFIRMER_ROLES:
            raise Forbidden(
                f"role {by.role!r} cannot confirm keys; Brand-PR or a second admin does",
                reason="wrong_role",
            )

    async def confirm(self, proposal: KeyProposal, by: Principal) -> IssuedKey:
        self.check_confirmer(proposal, by)
        await self._take(proposal.id)
        return await self._principals.create(
            name=proposal.name, role=proposal.role, unit=proposal.unit
        )

    async def reject(self, proposal: KeyProposal) -> None:
        await self._take(proposal.id)

    async def _take(self, proposal_id: str) -> None:
        taken = await self._take_script(
            keys=[self._keys.key_proposal(proposal_id), self._keys.key_proposals()],
            args=[proposal_id],
        )
        if not taken:
            raise Conflict(f"key proposal {proposal_id} was already decided")

    async def list_pending(self) -> list[KeyProposal]:
        ids = sorted(text(m) for m in await self._redis.smembers(self._keys.key_proposals()))
        result = []
        for proposal_id in ids:
            raw = await self._redis.get(self._keys.key_proposal(proposal_id))
            if raw is None:  # expired
                await self._redis.srem(self._keys.key_proposals(), proposal_id)
                continue
            result.append(KeyProposal(**json.loads(raw)))
        return result
