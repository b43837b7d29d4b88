"""An approver's decision on exactly this content, signed as an Ed25519 approval token.

One code path for both ways an approval is given: ``POST /v1/approvals`` (a program carries the
token itself) and the desk (``POST /v1/submissions/{id}/decisions``: the desk keeps the token for
the approver). Either way the token is the same JWS, bound to the content hash, and every check
of the gate applies to it unchanged (docs/approval-tokens.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gateway.errors import ContentBlocked, Forbidden, NotFound, field_error
from gateway.gate import PublishGate, acts_for, post_hash
from gateway.jws import ApprovalClaims
from gateway.postmodel import Post
from gateway.principals import Principal
from gateway.requirements import EXTERNAL_CONFIRMATION
from gateway.services import actor_of
from screening.pipeline import ScreenResult

Decision = Literal["approve", "reject"]


@dataclass(frozen=True)
class SignedDecision:
    """A signed approval or rejection: the token, its claims and the screen it was given on."""

    token: str
    claims: ApprovalClaims
    content_sha256: str
    screen: ScreenResult

    def public(self) -> dict[str, Any]:
        """The answer of ``POST /v1/approvals`` (the token included: the caller carries it)."""
        c = self.claims
        return {
            "token": self.token,
            "jti": c.jti,
            "decision": c.decision,
            "content_sha256": self.content_sha256,
            "accounts": list(c.accounts),
            "role": c.role,
            "unit": c.unit,
            "issued_at": c.iat,
            "expires_at": c.exp,
            "screening": self.screen.to_json(),
        }


def check_attest(principal: Principal, attest: Sequence[str], field: str = "attest") -> None:
    """Only known attestations, and only Brand-PR records an external confirmation."""
    for i, name in enumerate(attest):
        if name != EXTERNAL_CONFIRMATION:
            raise field_error(
                f"{field}[{i}]", f"unknown attestation; known: {EXTERNAL_CONFIRMATION}"
            )
    if attest and principal.role != "brand_pr":
        raise Forbidden(
            "only Brand-PR records an external confirmation (Art. 17(2))",
            reason="wrong_role",
            field=field,
        )


async def sign_decision(
    gate: PublishGate,
    principal: Principal,
    *,
    post: Post,
    accounts: Sequence[str],
    decision: Decision,
    reason: str = "",
    attest: Sequence[str] = (),
    request_id: str = "",
    audit_details: dict[str, Any] | None = None,
) -> SignedDecision:
    """Sign ``principal``'s decision on ``post`` for ``accounts``, audited before it is returned.

    Raises :class:`ValidationFailed` (no accounts, unknown attestation, reject without reason),
    :class:`NotFound` (unknown account), :class:`Forbidden` (an account outside the approver's
    scope, an attestation by someone not Brand-PR), :class:`ContentBlocked` (approving content
    that screening blocks; the attempt is audited) and :class:`ServiceUnavailable` (no signing
    key, no audit). A rejection is also recorded so the gate refuses this content for these
    accounts.
    """
    svc = gate.svc
    if decision == "reject" and not reason.strip():
        raise field_error("reason", "a rejection needs a reason the submitter can act on")
    check_attest(principal, attest)
    if not accounts:
        raise field_error("accounts", "name at least one account")
    for i, account_id in enumerate(accounts):
        account = await svc.accounts.get(account_id)
        if account is None:
            raise NotFound(f"no account {account_id!r}", field=f"accounts[{i}]")
        if not acts_for(svc.settings.policy, principal, account.unit):
            raise Forbidden(
                f"{principal.role} of {principal.unit} cannot approve for account "
                f"{account_id} of unit {account.unit}",
                reason="wrong_unit",
                field=f"accounts[{i}]",
            )
    digest = post_hash(post)
    result = await gate.screening.screen(post.texts())
    actor = actor_of(principal)

    async def audit(**record: Any) -> None:
        try:
            await svc.audit.append(actor=actor, request_id=request_id, **record)
        except Exception:
            svc.metrics.audit_failures.inc()
            raise

    if decision == "approve" and result.decision == "block":
        await audit(
            action="approval.refused",
            target=",".join(accounts),
            result="refused",
            decision="block",
            content_sha256=digest,
            reasons=[f"{f.category}:{f.rule}" for f in result.findings if f.action == "block"],
            details=audit_details,
        )
        raise ContentBlocked(
            "blocked content cannot be approved (Art. 18, 21)",
            findings=[f.to_json() for f in result.findings],
            content_sha256=digest,
        )
    token, claims = gate.approvals.sign(
        principal,
        accounts=accounts,
        content_sha256=digest,
        decision=decision,
        attest=attest,
        reason=reason,
    )
    await audit(
        action=f"approval.{decision}",
        target=",".join(accounts),
        decision=decision,
        content_sha256=digest,
        reasons=[reason] if reason else [],
        details={
            "jti": claims.jti,
            "role": claims.role,
            "attest": list(attest),
            "expires_at": claims.exp,
            **(audit_details or {}),
        },
    )
    if decision == "reject":
        await gate.approvals.record_rejection(claims)
    return SignedDecision(token, claims, digest, result)
