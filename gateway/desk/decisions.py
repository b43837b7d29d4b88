"""Decisions on the desk: an approver approves or rejects a version, or an external approval
token is attached to it. Approve signs the token through :mod:`gateway.desk.signing` (the code
path of ``POST /v1/approvals``) and keeps it with the submission; the last required approval
makes it ``approved`` and, when ``publish_at`` has come, releases it to the gate at once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from gateway.desk.model import ApprovalEntry, DecisionEntry, Submission
from gateway.desk.publishing import RELEASE_MARGIN_S
from gateway.desk.rules import (
    approved_by,
    as_requirement,
    decided_by,
    in_scope,
    meets,
    require_match,
    require_state,
)
from gateway.desk.signing import check_attest, sign_decision
from gateway.errors import Conflict, Forbidden, Unprocessable, field_error
from gateway.gate import acts_for
from gateway.jws import TokenError, verify_approval
from gateway.postmodel import post_from_stored
from gateway.principals import Principal

if TYPE_CHECKING:
    from gateway.desk.service import DeskService


class Decisions:
    def __init__(self, desk: DeskService) -> None:
        self.desk = desk
        self.gate = desk.gate
        self.svc = desk.svc

    async def decide(
        self,
        principal: Principal,
        submission_id: str,
        *,
        decision: Literal["approve", "reject"],
        reason: str = "",
        attest: Sequence[str] = (),
        request_id: str = "",
    ) -> Submission:
        """An approver in scope approves or rejects this version.

        Approve signs the same token as ``POST /v1/approvals`` and keeps it with the submission;
        once every required approval is there the submission is ``approved`` and, when
        ``publish_at`` has come, released to the gate at once. Reject needs ``reason`` (the
        submitter sees it) and records the rejection with the gate. Raises :class:`NotFound`,
        :class:`Conflict` (not ``awaiting_approval``; already decided), :class:`Forbidden`
        (``self_approval``, ``wrong_role``, ``wrong_unit``), :class:`ValidationFailed` (reject
        without reason; an attestation needed or unknown) and what signing raises.
        """
        sub = await self.desk.visible(principal, submission_id)
        require_state(sub, ("awaiting_approval",), "decided")
        if decision == "reject" and not reason.strip():
            raise field_error("reason", "a rejection needs a reason the submitter can act on")
        check_attest(principal, attest)
        if principal.id == sub.submitted_by:
            raise Forbidden(
                "the submitter cannot approve or reject their own submission",
                reason="self_approval",
            )
        if decided_by(sub, principal.id):
            raise Conflict(f"you already decided on submission {sub.id}", reason="already_decided")
        wanted = require_match(self.desk.policy, principal, sub)
        if decision == "approve":
            needs_attest = next((r for r in wanted if r.attest and r.attest not in attest), None)
            if needs_attest is not None:
                raise field_error(
                    "attest",
                    f"this approval needs the attestation {needs_attest.attest!r}: "
                    + "; ".join(needs_attest.reasons),
                )
        accounts = [
            a
            for a, unit in zip(sub.accounts, sub.units, strict=True)
            if any(a in r.accounts for r in wanted) and acts_for(self.desk.policy, principal, unit)
        ]
        signed = await sign_decision(
            self.gate,
            principal,
            post=post_from_stored(sub.post),
            accounts=accounts,
            decision=decision,
            reason=reason,
            attest=attest,
            request_id=request_id,
            audit_details={"submission": sub.id},
        )
        claims = signed.claims
        now = time.time()
        entry = DecisionEntry(
            decision,
            principal.id,
            principal.name,
            principal.role,
            principal.unit,
            now,
            reason,
            tuple(attest),
        )
        approval = ApprovalEntry(
            claims.role,
            claims.unit,
            claims.sub,
            claims.name or "",
            now,
            claims.jti,
            claims.iss,
            claims.accounts,
            "desk",
            claims.attest,
        )

        def change(current: Submission) -> Submission:
            require_state(current, ("awaiting_approval",), "decided")
            if current.content_sha256 != signed.content_sha256:
                raise Conflict("the submission changed while you decided", reason="changed")
            if decided_by(current, principal.id):
                raise Conflict(
                    f"you already decided on submission {current.id}", reason="already_decided"
                )
            current = replace(current, decisions=(*current.decisions, entry))
            if decision == "reject":
                return current.moved("rejected", now, "rejected", principal.id, reason)
            return approved_by(current, approval, now)

        updated = await self.desk.store.update(
            sub.id,
            change,
            tokens=None if decision == "reject" else {claims.jti: signed.token},
            due_at=sub.publish_at or now,
        )
        await self.desk.notices.decided(updated, entry)
        return await self.desk.publisher.release_if_due(updated)

    async def attach_token(
        self, principal: Principal, submission_id: str, token: str, request_id: str = ""
    ) -> Submission:
        """Attach an approval token from an external issuer (an OA system) to this version.

        The token is verified the way the gate verifies it at publish (signature, issuer key,
        time, content hash, accounts, approver, self-approval); it must meet a requirement that
        is still open. Raises :class:`NotFound`, :class:`Forbidden` (caller neither the
        submitter nor an approver in scope), :class:`Conflict` (state; token already attached)
        and :class:`Unprocessable` with ``token_errors`` when it does not verify or meets
        nothing.
        """
        sub = await self.desk.visible(principal, submission_id)
        if principal.id != sub.submitted_by and not in_scope(self.desk.policy, principal, sub):
            raise Forbidden(
                "only the submitter or an approver in scope attaches approvals",
                reason="not_in_scope",
            )
        require_state(sub, ("awaiting_approval",), "given approvals")
        settings = self.svc.settings.approvals
        try:
            claims = verify_approval(
                token,
                self.gate.approvals.ring,
                now=time.time(),
                leeway_s=settings.clock_skew_s,
                max_lifetime_s=max(settings.token_ttl_s, 7 * 24 * 3600),
            )
        except TokenError as exc:
            raise Unprocessable(
                f"the token does not verify: {exc.message}",
                token_errors=[{"index": 0, "code": exc.code, "reason": exc.message}],
            ) from None
        submitter = await self.svc.principals.get(sub.submitted_by)
        if submitter is None:
            raise Conflict("the submitter no longer exists", reason="submitter_unknown")
        problems: list[dict[str, str]] = []
        accepted_for: list[str] = []
        for account_id in sub.accounts:
            account = await self.svc.accounts.require(account_id)
            check = await self.gate.approvals.check(
                [token],
                required=[as_requirement(r) for r in sub.required if account_id in r.accounts],
                content_sha256=sub.content_sha256,
                account=account,
                submitter=submitter,
            )
            if check.accepted:
                accepted_for.append(account_id)
            problems.extend({**p.public(), "account": account_id} for p in check.problems)
        if not accepted_for:
            raise Unprocessable(
                "the token does not approve this submission: "
                + "; ".join(p["reason"] for p in problems[:3]),
                token_errors=problems,
            )
        if sub.publish_at is not None and claims.exp < sub.publish_at + RELEASE_MARGIN_S:
            raise Unprocessable(
                "the token expires before the submission's publish_at (with a margin of "
                f"{RELEASE_MARGIN_S:.0f} s): the gate would refuse it at release; ask the issuer "
                "for a token valid until then",
                token_errors=[
                    {
                        "index": 0,
                        "code": "expires_before_publish_at",
                        "reason": "expires before publish_at",
                    }
                ],
            )
        if any(a.jti == claims.jti for a in sub.approvals):
            raise Conflict(
                f"token {claims.jti} is already attached", reason="duplicate", jti=claims.jti
            )
        now = time.time()
        approval = ApprovalEntry(
            claims.role,
            claims.unit,
            claims.sub,
            claims.name or "",
            now,
            claims.jti,
            claims.iss,
            tuple(accepted_for),
            "external",
            claims.attest,
        )
        if not any(meets(r, approval) for r in sub.outstanding):
            raise Unprocessable(
                f"the token of {claims.role} {claims.name or claims.sub} meets no approval "
                "this submission still needs",
                token_errors=[
                    {"index": 0, "code": "not_needed", "reason": "meets no open requirement"}
                ],
            )
        await self.desk.audit(
            principal,
            "submission.attach",
            sub.id,
            request_id,
            decision="attached",
            content_sha256=sub.content_sha256,
            details={"jti": claims.jti, "iss": claims.iss, "role": claims.role},
        )

        def change(current: Submission) -> Submission:
            require_state(current, ("awaiting_approval",), "given approvals")
            if any(a.jti == claims.jti for a in current.approvals):
                raise Conflict(f"token {claims.jti} is already attached", reason="duplicate")
            return approved_by(current, approval, now)

        updated = await self.desk.store.update(
            sub.id, change, tokens={claims.jti: token}, due_at=sub.publish_at or now
        )
        return await self.desk.publisher.release_if_due(updated)
