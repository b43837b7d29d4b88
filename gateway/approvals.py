"""Approvals (Art. 12, 14, 17): issuing tokens, and checking the ones a publish presents.

The gateway issues Ed25519 approval tokens to authenticated approvers (:meth:`issue`) and also
accepts tokens from external issuers listed in ``gateway.toml`` (an OA system). Checking a set
of tokens against one post and one account (:meth:`check`) applies, per token and in order:
signature, algorithm, type, key, time (``gateway.jws``), then decision, content hash, account,
approver identity and role, self-approval, one approval per person, and unit. The result says
which requirements are met, which are missing, and why each rejected token was rejected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import redis.asyncio as aredis
from cryptography.hazmat.primitives import serialization

from gateway.accounts import Account
from gateway.errors import ServiceUnavailable
from gateway.jobs import ApprovalRef
from gateway.jws import (
    ApprovalClaims,
    KeyRing,
    SigningKey,
    TokenError,
    VerifyKey,
    generate_signing_key,
    load_private_key_pem,
    new_approval_claims,
    public_key_from_b64url,
    sign_approval,
    verify_approval,
)
from gateway.keys import Keys
from gateway.principals import Principal, PrincipalStore, principal_from_record
from gateway.requirements import Requirement
from gateway.settings import Settings

log = logging.getLogger(__name__)

MAX_TOKENS = 16  # approvals one publish may present

# What :meth:`ApprovalService.review` reads, in one script: KEYS[1] the content's rejections
# (a list), then ARGV[1] approvers' key records, then one jti key per token. Answers the
# rejections, the records (nil for none) and one 0/1 per jti (1: already consumed).
_REVIEW_READS_LUA = """
local approvers = tonumber(ARGV[1])
local records, used = {}, {}
for i = 1, approvers do records[i] = redis.call('GET', KEYS[1 + i]) end
for i = 2 + approvers, #KEYS do used[#used + 1] = redis.call('EXISTS', KEYS[i]) end
return {redis.call('LRANGE', KEYS[1], 0, -1), records, used}
"""


def build_key_ring(settings: Settings, signing_key_pem: bytes) -> tuple[KeyRing, bool]:
    """The key ring, and whether the gateway can issue tokens (it has a configured key)."""
    can_issue = bool(signing_key_pem)
    if can_issue:
        private = serialization.load_pem_private_key(signing_key_pem, password=None)
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        kid = "mediagate-" + hashlib.sha256(raw).hexdigest()[:12]
        signing: SigningKey = load_private_key_pem(kid, signing_key_pem)
    else:
        log.error(
            "no approval signing key: POST /v1/approvals answers 503; external issuers still verify"
        )
        signing = generate_signing_key("mediagate-unconfigured")
    verify: dict[str, VerifyKey] = {signing.kid: signing.verify_key(settings.approvals.issuer)}
    for issuer in settings.approvals.issuers:
        not_after = datetime.fromisoformat(issuer.not_after) if issuer.not_after else None
        verify[issuer.kid] = VerifyKey(
            kid=issuer.kid,
            public_key=public_key_from_b64url(issuer.public_key),
            issuer=issuer.issuer,
            roles=frozenset(issuer.roles) if issuer.roles else None,
            not_after=not_after,
        )
    return KeyRing(signing=signing, verify=verify), can_issue


@dataclass(frozen=True)
class TokenProblem:
    index: int
    code: str
    message: str
    jti: str = ""

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "code": self.code, "reason": self.message}
        if self.jti:
            data["jti"] = self.jti
        return data


@dataclass
class CheckResult:
    required: list[Requirement]
    satisfied: dict[str, ApprovalClaims] = field(default_factory=dict)  # label -> claims
    missing: list[Requirement] = field(default_factory=list)
    problems: list[TokenProblem] = field(default_factory=list)
    accepted: list[ApprovalClaims] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    def refs(self) -> tuple[ApprovalRef, ...]:
        return tuple(
            ApprovalRef(
                jti=c.jti,
                sub=c.sub,
                role=c.role,
                unit=c.unit,
                iss=c.iss,
                exp=c.exp,
                name=c.name or "",
            )
            for c in self.accepted
        )


@dataclass(frozen=True)
class Review:
    """:meth:`ApprovalService.review`: rejections of the content for the account, the token
    check, and the id of the first accepted token already consumed ('' if none)."""

    rejections: list[dict[str, Any]]
    check: CheckResult
    replayed: str


class ApprovalService:
    def __init__(
        self,
        settings: Settings,
        redis: aredis.Redis,
        keys: Keys,
        principals: PrincipalStore,
        ring: KeyRing,
        can_issue: bool,
    ) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._principals = principals
        self._review_reads = redis.register_script(_REVIEW_READS_LUA)
        self.ring = ring
        self.can_issue = can_issue

    def sign(
        self,
        approver: Principal,
        *,
        accounts: Sequence[str],
        content_sha256: str,
        decision: Literal["approve", "reject"],
        attest: Sequence[str] = (),
        reason: str = "",
        now: float | None = None,
    ) -> tuple[str, ApprovalClaims]:
        if not self.can_issue:
            raise ServiceUnavailable(
                "the gateway has no approval signing key configured (MEDIAGATE_SIGNING_KEY)",
                reason="signing_unavailable",
            )
        claims = new_approval_claims(
            iss=self._settings.approvals.issuer,
            sub=approver.id,
            role=approver.role,
            unit=approver.unit,
            accounts=tuple(accounts),
            content_sha256=content_sha256,
            decision=decision,
            now_s=time.time() if now is None else now,
            lifetime_s=self._settings.approvals.token_ttl_s,
            name=approver.name,
            attest=tuple(attest),
            reason=reason or None,
        )
        return sign_approval(claims, self.ring.signing), claims

    async def record_rejection(self, claims: ApprovalClaims) -> None:
        entry = {
            "by": claims.sub,
            "name": claims.name or "",
            "role": claims.role,
            "unit": claims.unit,
            "reason": claims.reason or "",
            "at": claims.iat,
            "accounts": list(claims.accounts),
            "jti": claims.jti,
        }
        key = self._keys.rejection(claims.content_sha256)
        await self._redis.rpush(key, json.dumps(entry, ensure_ascii=False))
        await self._redis.expire(key, self._settings.approvals.token_ttl_s * 4)

    async def rejections(self, content_sha256: str, account: str) -> list[dict[str, Any]]:
        raws = await self._redis.lrange(self._keys.rejection(content_sha256), 0, -1)
        found = [json.loads(r) for r in raws]
        return [r for r in found if account in r.get("accounts", [])]

    async def replayed(self, account: str, claims: Sequence[ApprovalClaims]) -> str:
        """The first token id already consumed for ``account`` ('' if none) — a fast pre-check;
        the job record consumes them atomically."""
        if not claims:
            return ""
        values = await self._redis.mget([self._keys.jti(account, c.jti) for c in claims])
        for c, used in zip(claims, values, strict=True):
            if used is not None:
                return c.jti
        return ""

    def _verify(self, tokens: Sequence[str], now: float) -> list[ApprovalClaims | TokenError]:
        """Each token's claims, or why its signature, key, type or time does not verify."""
        verified: list[ApprovalClaims | TokenError] = []
        for token in tokens:
            try:
                verified.append(
                    verify_approval(
                        token,
                        self.ring,
                        now=now,
                        leeway_s=self._settings.approvals.clock_skew_s,
                        max_lifetime_s=max(self._settings.approvals.token_ttl_s, 7 * 24 * 3600),
                    )
                )
            except TokenError as exc:
                verified.append(exc)
        return verified

    def _own_approvers(self, verified: Sequence[ApprovalClaims | TokenError]) -> list[str]:
        """Key ids of the approvers of this gateway's own tokens (looked up in the store)."""
        issuer = self._settings.approvals.issuer
        return sorted(
            {c.sub for c in verified if isinstance(c, ApprovalClaims) and c.iss == issuer}
        )

    async def check(
        self,
        tokens: Sequence[str],
        *,
        required: list[Requirement],
        content_sha256: str,
        account: Account,
        submitter: Principal,
        now: float | None = None,
    ) -> CheckResult:
        verified = self._verify(tokens, time.time() if now is None else now)
        approvers = await self._principals.get_many(self._own_approvers(verified))
        return self._judge(verified, approvers, required, content_sha256, account, submitter)

    async def review(
        self,
        tokens: Sequence[str],
        *,
        required: list[Requirement],
        content_sha256: str,
        account: Account,
        submitter: Principal,
        now: float | None = None,
    ) -> Review:
        """What a publish needs to know about its approvals, read in one round trip: the
        rejections of this content for ``account`` (:meth:`rejections`), the token check
        (:meth:`check`) and the first accepted token already consumed (:meth:`replayed`)."""
        verified = self._verify(tokens, time.time() if now is None else now)
        subs = self._own_approvers(verified)
        jtis = [c.jti for c in verified if isinstance(c, ApprovalClaims)]
        raws, records, marks = await self._review_reads(
            keys=[
                self._keys.rejection(content_sha256),
                *(self._keys.api_key(s) for s in subs),
                *(self._keys.jti(account.id, j) for j in jtis),
            ],
            args=[len(subs)],
        )
        found = [json.loads(r) for r in raws]
        rejections = [r for r in found if account.id in r.get("accounts", [])]
        approvers = {s: principal_from_record(r) for s, r in zip(subs, records, strict=True)}
        used = {j for j, v in zip(jtis, marks, strict=True) if v}
        check = self._judge(verified, approvers, required, content_sha256, account, submitter)
        replayed = next((c.jti for c in check.accepted if c.jti in used), "")
        return Review(rejections, check, replayed)

    def _judge(
        self,
        verified: Sequence[ApprovalClaims | TokenError],
        approvers: Mapping[str, Principal | None],
        required: list[Requirement],
        content_sha256: str,
        account: Account,
        submitter: Principal,
    ) -> CheckResult:
        result = CheckResult(required=required)
        seen: set[tuple[str, str]] = set()
        for index, claims in enumerate(verified):
            if isinstance(claims, TokenError):
                result.problems.append(TokenProblem(index, claims.code, claims.message))
                continue

            def bad(
                code: str, message: str, claims: ApprovalClaims = claims, index: int = index
            ) -> None:
                result.problems.append(TokenProblem(index, code, message, claims.jti))

            if claims.decision != "approve":
                bad(
                    "rejection",
                    f"this token records a rejection by {claims.role} "
                    f"{claims.name or claims.sub}: {claims.reason or 'no reason given'}",
                )
                continue
            if not hmac.compare_digest(claims.content_sha256, content_sha256):
                bad(
                    "hash_mismatch",
                    "the token approves other content (content_sha256 differs;"
                    " any change to the post voids its approvals)",
                )
                continue
            if account.id not in claims.accounts:
                bad("account_not_in_token", f"the token does not cover account {account.id}")
                continue
            if claims.iss == self._settings.approvals.issuer:
                approver = approvers.get(claims.sub)
                if approver is None or approver.revoked:
                    bad("approver_unknown", "the approver is unknown or their key was revoked")
                    continue
                if approver.role != claims.role or approver.unit != claims.unit:
                    bad(
                        "role_mismatch",
                        f"the token claims {claims.role}@{claims.unit} but the "
                        f"approver is {approver.role}@{approver.unit}",
                    )
                    continue
            if claims.iss == self._settings.approvals.issuer and claims.sub == submitter.id:
                bad("self_approval", "the submitter cannot approve their own post")
                continue
            person = (claims.iss, claims.sub)
            if person in seen:
                bad(
                    "duplicate_approver",
                    f"{claims.name or claims.sub} already approved; one person counts once",
                )
                continue
            if claims.role == "unit_head":
                wanted = [r.unit for r in required if r.role == "unit_head"]
                if claims.unit not in wanted:
                    bad(
                        "wrong_unit",
                        f"a unit head of {claims.unit} cannot approve here; needed:"
                        f" head of {', '.join(wanted) or 'no unit'}",
                    )
                    continue
            seen.add(person)
            result.accepted.append(claims)

        for req in required:
            match = next(
                (
                    c
                    for c in result.accepted
                    if c.role == req.role
                    and (not req.unit or c.unit == req.unit)
                    and (not req.attest or req.attest in c.attest)
                ),
                None,
            )
            if match is None:
                result.missing.append(req)
            else:
                result.satisfied[req.label()] = match
        return result
