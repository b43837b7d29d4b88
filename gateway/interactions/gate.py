"""The gate for interactions: the same walk as a post's, with the ``[interactions]`` policy.

:meth:`InteractionGate.submit` walks one comment, reply, repost or comment switch through
authorise → resolve the target → validate for the platform → hash → screen → required
approvals → verify tokens → audit → record an ``interaction`` job, consuming the tokens
atomically (the job store's one Lua step). It reuses the post gate's pieces (authorisation,
refusal audit, the missing-approvals problem, the Art. 8 ``on_blocked`` hook) rather than
copying them; the delivery worker delivers the job through the connector's ``interact``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from connectors.base import AccountRef, Interactor
from gateway.accounts import Account
from gateway.desk.signing import Decision, SignedDecision
from gateway.errors import (
    Conflict,
    ContentBlocked,
    Forbidden,
    GatewayError,
    NotFound,
    ValidationFailed,
    field_error,
)
from gateway.gate import Assessment, PublishGate, acts_for
from gateway.interactions.model import TEXT_KINDS, InteractionRequest, Resolved
from gateway.jobs import Job, new_job_id
from gateway.principals import Principal
from gateway.requirements import interaction_approvals
from gateway.services import actor_of
from screening.pipeline import ScreenResult

_TARGET_FIELD = re.compile(r"target\.[a-z_]+")
NO_TEXT = ScreenResult(findings=(), decision="pass", required_roles=())


def _field_of(problem: str) -> str:
    """The request field a connector's sentence is about (it names ``target.x`` or the text)."""
    named = _TARGET_FIELD.search(problem)
    if named:
        return named.group(0)
    if re.search(r"\btext\b|characters|bytes", problem):
        return "text"
    if re.search(r"\bcannot\b.*\bsupports\b", problem):
        return "kind"
    return "account"


class InteractionGate:
    def __init__(self, gate: PublishGate) -> None:
        self.gate = gate
        self.svc = gate.svc

    async def resolve(
        self, principal: Principal, request: InteractionRequest, account: Account
    ) -> Resolved:
        """The target as the platform knows it, after the checks no schema can state."""
        connector = self.gate.connectors.get(account.platform)
        if not isinstance(connector, Interactor):
            raise field_error(
                "kind", f"{account.platform} accounts take no comments, replies or reposts"
            )
        if request.kind not in connector.interaction_kinds:
            raise field_error(
                "kind",
                f"{account.platform} does not support {request.kind}; it supports "
                + ", ".join(sorted(connector.interaction_kinds)),
            )
        if request.kind not in TEXT_KINDS and request.text:
            raise field_error("text", f"{request.kind} takes no text")
        target = request.target
        if target.post and target.platform_id:
            raise field_error("target", "name target.post or target.platform_id, not both")
        platform_id, origin = target.platform_id, ""
        if target.post:
            job = await self.gate.jobs.get(target.post)
            visible = job is not None and (
                job.state == "published" or acts_for(self.svc.settings.policy, principal, job.unit)
            )  # a published item is public; another unit's drafts and failures are not
            if job is None or job.kind == "interaction" or not visible:
                raise NotFound(f"no post {target.post!r}", field="target.post")
            if job.state != "published":
                raise Conflict(
                    f"post {job.id} is {job.state}; only a published post can be "
                    "commented on or reposted",
                    reason="not_published",
                    field="target.post",
                    state=job.state,
                )
            if job.platform != account.platform:
                raise field_error(
                    "target.post",
                    f"post {job.id} is on {job.platform}; account {account.id} is on "
                    f"{account.platform}",
                )
            platform_id, origin = job.platform_id, job.id
        resolved = Resolved(request, platform_id, origin)
        ref = AccountRef(account.id, account.platform, account.name, account.settings)
        problems = connector.validate_interaction(resolved.outbound(""), ref)
        if problems:
            raise ValidationFailed([{"field": _field_of(p), "message": p} for p in problems])
        return resolved

    async def assess(
        self, principal: Principal, request: InteractionRequest
    ) -> tuple[Resolved, Assessment]:
        """Authorise, resolve and screen ``request``; its hash and required approvals."""
        account = await self.gate.authorise(principal, request.account)
        resolved = await self.resolve(principal, request, account)
        return resolved, await self._assessment(principal, account, request)

    async def _screen(self, request: InteractionRequest) -> ScreenResult:
        if not request.text:
            return NO_TEXT
        return await self.gate.screening.screen({"text": request.text})

    async def _assessment(
        self, principal: Principal, account: Account, request: InteractionRequest
    ) -> Assessment:
        screen = await self._screen(request)
        required = interaction_approvals(
            policy=self.svc.settings.policy,
            account=account,
            submitter=principal,
            kind=request.kind,
            findings=screen.findings,
        )
        return Assessment(account, request.content_sha256, screen, required)

    async def submit(
        self,
        principal: Principal,
        request: InteractionRequest,
        tokens: Sequence[str],
        request_id: str = "",
    ) -> Job:
        gate, actor = self.gate, actor_of(principal)
        action, target = f"interaction.{request.kind}", request.account
        content_hash = request.content_sha256
        try:
            account = await gate.authorise(principal, request.account)
        except GatewayError as exc:
            raise await gate._refuse(actor, request_id, action, target, exc) from None
        try:
            resolved = await self.resolve(principal, request, account)
        except GatewayError as exc:
            raise await gate._refuse(actor, request_id, action, target, exc, content_hash) from None
        assessment = await self._assessment(principal, account, request)
        check = await gate.decide(
            principal,
            assessment,
            tokens,
            action=action,
            target=target,
            request_id=request_id,
            blocked=f"the {request.kind} may not be sent whatever approvals are presented "
            "(Art. 18, 21, 22)",
            noun="interaction",
        )
        now = time.time()
        job = Job(
            id=new_job_id(),
            kind="interaction",
            account=account.id,
            platform=account.platform,
            unit=account.unit,
            submitted_by=principal.id,
            content_sha256=content_hash,
            state="approved",
            created_at=now,
            updated_at=now,
            title=f"{request.kind}: {request.text}"[:200],
            approvals=check.refs(),
            required_roles=tuple(r.label() for r in assessment.required),
            details={
                "interaction": request.kind,
                "target": request.target.canonical(),
                "target_post": resolved.origin,
            },
        )
        return await gate.record(
            principal,
            job,
            resolved.stored(),
            action=action,
            target=target,
            request_id=request_id,
            reasons=[f"{label}: {c.name or c.sub}" for label, c in check.satisfied.items()]
            or ["no approval required by the [interactions] policy"],
            details={
                "kind": request.kind,
                "target": request.target.canonical(),
                "findings": len(assessment.screen.findings),
            },
        )

    async def sign(
        self,
        approver: Principal,
        request: InteractionRequest,
        decision: Decision,
        reason: str = "",
        request_id: str = "",
    ) -> SignedDecision:
        """An approver's signed decision on exactly this interaction (audited first).

        The token is the same JWS as for posts, bound to the interaction's hash and account;
        blocked text cannot be approved (the attempt is audited).
        """
        svc = self.svc
        if decision == "reject" and not reason.strip():
            raise field_error("reason", "a rejection needs a reason the submitter can act on")
        account = await svc.accounts.require(request.account)
        if not acts_for(svc.settings.policy, approver, account.unit):
            raise Forbidden(
                f"{approver.role} of {approver.unit} cannot approve for account {account.id} "
                f"of unit {account.unit}",
                reason="wrong_unit",
                field="account",
            )
        digest = request.content_sha256
        screen = (
            await self.gate.screening.screen({"text": request.text}) if request.text else NO_TEXT
        )
        actor = actor_of(approver)
        details = {"interaction": request.kind, "target": request.target.canonical()}
        if decision == "approve" and screen.decision == "block":
            await svc.audit.append(
                actor=actor,
                action="approval.refused",
                target=account.id,
                result="refused",
                decision="block",
                content_sha256=digest,
                reasons=[f"{f.category}:{f.rule}" for f in screen.findings if f.action == "block"],
                request_id=request_id,
                details=details,
            )
            raise ContentBlocked(
                "blocked text cannot be approved (Art. 18, 21)",
                findings=[f.to_json() for f in screen.findings],
                content_sha256=digest,
            )
        token, claims = self.gate.approvals.sign(
            approver, accounts=[account.id], content_sha256=digest, decision=decision, reason=reason
        )
        await svc.audit.append(
            actor=actor,
            action=f"approval.{decision}",
            target=account.id,
            decision=decision,
            content_sha256=digest,
            reasons=[reason] if reason else [],
            request_id=request_id,
            details={**details, "jti": claims.jti, "role": claims.role, "expires_at": claims.exp},
        )
        if decision == "reject":
            await self.gate.approvals.record_rejection(claims)
        return SignedDecision(token, claims, digest, screen)


__all__ = ["InteractionGate"]
