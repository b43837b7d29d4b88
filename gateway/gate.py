"""The publish gate: nothing leaves without the right people approving exactly this content.

:meth:`PublishGate.submit` walks one request through authorise → validate → screen → decide →
verify approvals → audit → record the job (consuming the tokens atomically). Every refusal is
audited with its reasons and raised as a problem that says exactly why. Edits and deletions of
published posts (Art. 19) go through :meth:`edit` and :meth:`delete`.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.base import AccountRef, Connector
from gateway.accounts import Account, required
from gateway.approvals import ApprovalService, CheckResult
from gateway.audit import Actor
from gateway.authz import covers, route_up
from gateway.canonical import content_sha256
from gateway.errors import (
    ApprovalsMissing,
    Conflict,
    ContentBlocked,
    Forbidden,
    GatewayError,
    Locked,
    NotFound,
    TokenReplayed,
    ValidationFailed,
)
from gateway.jobs import Job, JobKind, JobStore, new_job_id
from gateway.postmodel import Post, post_to_stored
from gateway.principals import Principal
from gateway.requirements import Requirement, required_approvals
from gateway.screening_service import ScreeningService
from gateway.services import Services, actor_of
from gateway.settings import Policy
from screening.findings import Finding
from screening.pipeline import ScreenResult

TERMINAL_FOR_EDIT = frozenset({"published"})


@dataclass
class Assessment:
    """What the gate knows about one post for one account before looking at approvals."""

    account: Account
    content_sha256: str
    screen: ScreenResult
    required: list[Requirement] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "account": self.account.id,
            "content_sha256": self.content_sha256,
            "decision": self.screen.decision,
            "findings": [f.to_json() for f in self.screen.findings],
            "required_approvals": [r.public() for r in self.required],
            "required_roles": sorted({r.role for r in self.required}),
        }


def post_hash(post: Post) -> str:
    return content_sha256(post.as_api())


def nfc_post(post: Post) -> Post:
    """``post`` with its text fields in NFC, the form its hash covers (docs/approval-tokens.md).

    Canonically equivalent texts hash the same; the gate screens, stores and forwards this form
    so that the bytes published are exactly the bytes the approvers' hash stands for.
    """

    def nfc(text: str) -> str:
        return unicodedata.normalize("NFC", text)

    return replace(
        post,
        title=nfc(post.title),
        digest=nfc(post.digest),
        author=nfc(post.author),
        content=nfc(post.content),
        source=nfc(post.source),
    )


def acts_for(policy: Policy, principal: Principal, unit_id: str) -> bool:
    """True if ``principal`` may submit to (or approve for) the accounts of ``unit_id``.

    Its own unit and the units below it (:func:`covers`), plus the route up of Art. 17(1): a
    department or a subsidiary of HQ (or a unit below one) submits through HQ's own company
    platforms; its own head approves, Brand-PR publishes (:func:`route_up`).
    """
    if covers(policy, principal, unit_id):
        return True
    return route_up(policy, principal.unit, unit_id)


class PublishGate:
    def __init__(
        self,
        services: Services,
        screening: ScreeningService,
        approvals: ApprovalService,
        jobs: JobStore,
        connectors: Mapping[str, Connector],
    ) -> None:
        self.svc = services
        self.screening = screening
        self.approvals = approvals
        self.jobs = jobs
        self.connectors = connectors
        # Art. 8: told of every blocked attempt (the desk wires its alert notices here)
        self.on_blocked: (
            Callable[[Principal, Account, Sequence[Finding], str], Awaitable[None]] | None
        ) = None

    # the pieces ----------------------------------------------------------------------------
    async def authorise(self, principal: Principal, account_id: str) -> Account:
        raw, freeze = await self.svc.freeze.account_and_blocking(account_id)  # one round trip
        account = required(account_id, raw)
        if not acts_for(self.svc.settings.policy, principal, account.unit):
            raise Forbidden(
                f"{principal.role} of {principal.unit} may not publish to account "
                f"{account.id} of unit {account.unit}",
                reason="wrong_unit",
                field="account",
            )
        if account.state != "active":
            raise Conflict(
                f"account {account.id} is {account.state}; Brand-PR must approve its "
                "filing before anything is published to it (Art. 7)",
                reason="account_not_active",
                state=account.state,
            )
        if freeze:
            raise Locked(
                f"account {account.id} is frozen ({freeze.scope}): {freeze.reason}",
                reason="frozen",
                freeze=freeze.public(),
            )
        return account

    def validate(self, post: Post, account: Account, content_hash: str) -> None:
        errors: list[dict[str, str]] = []
        if not post.source.strip():
            errors.append(
                {
                    "field": "post.source",
                    "message": "every item must state its source (Art. 15); unsourced items are "
                    "not published",
                }
            )
        connector = self.connectors.get(account.platform)
        if connector is None:
            errors.append(
                {
                    "field": "account",
                    "message": f"no connector is loaded for platform {account.platform!r}",
                }
            )
        else:
            ref = AccountRef(account.id, account.platform, account.name, account.settings)
            for problem in connector.validate(post.outbound(content_hash), ref):
                errors.append({"field": "post", "message": problem})
        if errors:
            raise ValidationFailed(errors)

    async def assess(
        self, principal: Principal, account: Account, post: Post, content_hash: str = ""
    ) -> Assessment:
        """Screen `post` and derive its required approvals; `content_hash`: its post_hash when
        the caller has computed it already."""
        content_hash = content_hash or post_hash(post)
        screen = await self.screening.screen(post.texts())
        required = required_approvals(
            policy=self.svc.settings.policy,
            account=account,
            submitter=principal,
            post_category=post.category,
            findings=screen.findings,
        )
        return Assessment(account, content_hash, screen, required)

    async def _refuse(
        self,
        actor: Actor,
        request_id: str,
        action: str,
        target: str,
        error: GatewayError,
        content_hash: str = "",
        reasons: Sequence[str] = (),
        voids: int = 0,
    ) -> GatewayError:
        details: dict[str, Any] = {"status": error.status}
        if voids:
            # the attempt was audited as approved (audit first), then lost the race to record
            # its job: this record voids that one; reports count the attempt once
            details["voids"] = voids
        await self.svc.audit.append(
            actor=actor,
            action=action,
            target=target,
            result="refused",
            decision=error.slug,
            reasons=list(reasons) or [error.detail],
            content_sha256=content_hash,
            request_id=request_id,
            details=details,
        )
        return error

    # the gate ------------------------------------------------------------------------------
    async def submit(
        self,
        principal: Principal,
        *,
        account_id: str,
        post: Post,
        tokens: Sequence[str],
        request_id: str = "",
        kind: JobKind = "publish",
        origin: Job | None = None,
    ) -> Job:
        actor = actor_of(principal)
        action = f"post.{kind}"
        post = nfc_post(post)
        try:
            account = await self.authorise(principal, account_id)
        except GatewayError as exc:
            raise await self._refuse(actor, request_id, action, account_id, exc) from None
        content_hash = post_hash(post)
        try:
            self.validate(post, account, content_hash)
        except GatewayError as exc:
            raise await self._refuse(
                actor, request_id, action, account_id, exc, content_hash
            ) from None
        assessment = await self.assess(principal, account, post, content_hash)
        check = await self.decide(
            principal,
            assessment,
            tokens,
            action=action,
            target=account_id,
            request_id=request_id,
            blocked="the content may not be published whatever approvals are presented "
            "(Art. 18, 21)",
            noun="content",
        )
        now = time.time()
        job = Job(
            id=new_job_id(),
            kind=kind,
            account=account.id,
            platform=account.platform,
            unit=account.unit,
            submitted_by=principal.id,
            content_sha256=content_hash,
            state="approved",
            created_at=now,
            updated_at=now,
            category=post.category,
            title=post.title[:200],
            origin=origin.id if origin else "",
            approvals=check.refs(),
            required_roles=tuple(r.label() for r in assessment.required),
        )
        return await self.record(
            principal,
            job,
            post_to_stored(post),
            action=action,
            target=account_id,
            request_id=request_id,
            reasons=[f"{label}: {c.name or c.sub}" for label, c in check.satisfied.items()],
            details={"findings": len(assessment.screen.findings)},
        )

    async def decide(
        self,
        principal: Principal,
        assessment: Assessment,
        tokens: Sequence[str],
        *,
        action: str,
        target: str,
        request_id: str,
        blocked: str,
        noun: str,
    ) -> CheckResult:
        """Blocked content → rejections → missing approvals → a replayed token: each refusal is
        audited (action ``action`` on ``target``) and raised; otherwise the accepted check.
        ``blocked`` opens the block's detail, ``noun`` names what an approver rejected."""
        actor, account = actor_of(principal), assessment.account
        content_hash = assessment.content_sha256
        if assessment.screen.decision == "block":
            blocking = [f for f in assessment.screen.findings if f.action == "block"]
            error = ContentBlocked(
                f"{blocked}: "
                + "; ".join(f"{f.category} '{f.text}' in {f.field}" for f in blocking[:5]),
                findings=[f.to_json() for f in assessment.screen.findings],
                content_sha256=content_hash,
            )
            self.svc.metrics.decisions.inc("block")
            if self.on_blocked is not None:
                await self.on_blocked(principal, account, blocking, content_hash)
            raise await self._refuse(
                actor,
                request_id,
                action,
                target,
                error,
                content_hash,
                [f"{f.category}:{f.rule}" for f in blocking],
            )
        # rejections, the tokens' approvers and their replay marks: one round trip
        review = await self.approvals.review(
            tokens,
            required=assessment.required,
            content_sha256=content_hash,
            account=account,
            submitter=principal,
        )
        if review.rejections:
            rejected = Forbidden(
                f"an approver rejected this {noun}: "
                + "; ".join(
                    f"{r['role']} {r['name'] or r['by']}: {r['reason']}" for r in review.rejections
                ),
                reason="rejected",
                rejections=review.rejections,
                content_sha256=content_hash,
            )
            raise await self._refuse(actor, request_id, action, target, rejected, content_hash)
        check = review.check
        if not check.ok:
            self.svc.metrics.decisions.inc("missing_approvals")
            raise await self._refuse(
                actor,
                request_id,
                action,
                target,
                self._missing(assessment, check),
                content_hash,
                [f"missing {r.label()}" for r in check.missing]
                + [f"token {p.index}: {p.code}" for p in check.problems],
            )
        if review.replayed:
            replayed = TokenReplayed(
                f"approval token {review.replayed} was already used for account {account.id}",
                jti=review.replayed,
                account=account.id,
            )
            raise await self._refuse(actor, request_id, action, target, replayed, content_hash)
        return check

    async def record(
        self,
        principal: Principal,
        job: Job,
        stored: Mapping[str, Any],
        *,
        action: str,
        target: str,
        request_id: str,
        reasons: Sequence[str],
        details: Mapping[str, Any],
    ) -> Job:
        """Audit the approval and, in the same atomic step after it (one round trip), record
        ``job`` with its stored body and consume its tokens: if the record cannot be written,
        nothing is (fail closed). A lost race for the tokens leaves the approval's record
        written, and is audited as a refusal voiding it."""
        actor = actor_of(principal)
        decided, answer = await self.svc.audit.append_then(
            self.jobs.create_step(job, stored, now=job.created_at),
            actor=actor,
            action=action,
            target=job.account,
            result="ok",
            decision="approved",
            reasons=list(reasons),
            content_sha256=job.content_sha256,
            request_id=request_id,
            details={"job": job.id, "approvals": [a.jti for a in job.approvals], **details},
        )
        try:
            await self.jobs.created(job, answer)
        except GatewayError as exc:
            raise await self._refuse(
                actor, request_id, action, target, exc, job.content_sha256, voids=decided["seq"]
            ) from None
        self.svc.metrics.decisions.inc("approved")
        return job

    def _missing(self, assessment: Assessment, check: CheckResult) -> ApprovalsMissing:
        missing = check.missing
        detail = "missing approvals: " + ", ".join(f"{r.label()} ({r.reasons[0]})" for r in missing)
        if check.problems:
            detail += f"; {len(check.problems)} token(s) rejected"
        return ApprovalsMissing(
            detail,
            required_roles=sorted({r.role for r in assessment.required}),
            missing_roles=sorted({r.role for r in missing}),
            required_approvals=[r.public() for r in assessment.required],
            missing_approvals=[r.public() for r in missing],
            token_errors=[p.public() for p in check.problems],
            content_sha256=assessment.content_sha256,
            findings=[f.to_json() for f in assessment.screen.findings],
        )

    # Art. 19: edits and deletions ----------------------------------------------------------
    async def edit(
        self,
        principal: Principal,
        job_id: str,
        post: Post,
        tokens: Sequence[str],
        request_id: str = "",
    ) -> Job:
        origin = await self._published_origin(principal, job_id, "post.update")
        return await self.submit(
            principal,
            account_id=origin.account,
            post=post,
            tokens=tokens,
            request_id=request_id,
            kind="update",
            origin=origin,
        )

    async def delete(
        self, principal: Principal, job_id: str, reason: str, request_id: str = ""
    ) -> Job:
        actor = actor_of(principal)
        origin = await self._published_origin(principal, job_id, "post.delete")
        account = await self.svc.accounts.require(origin.account)
        allowed = principal.role == "brand_pr" or (
            principal.role == "unit_head"
            and covers(self.svc.settings.policy, principal, account.unit)
        )
        if not allowed:
            raise await self._refuse(
                actor,
                request_id,
                "post.delete",
                job_id,
                Forbidden(
                    "deleting a published post needs Brand-PR or the head of the owning unit "
                    f"({account.unit})",
                    reason="wrong_role",
                ),
                origin.content_sha256,
            )
        now = time.time()
        job = Job(
            id=new_job_id(),
            kind="delete",
            account=account.id,
            platform=account.platform,
            unit=account.unit,
            submitted_by=principal.id,
            content_sha256=origin.content_sha256,
            state="approved",
            created_at=now,
            updated_at=now,
            category=origin.category,
            title=origin.title,
            origin=origin.id,
            reason=reason,
        )
        decided = await self.svc.audit.append(
            actor=actor,
            action="post.delete",
            target=origin.id,
            result="ok",
            decision="approved",
            reasons=[reason],
            content_sha256=origin.content_sha256,
            request_id=request_id,
            details={"job": job.id},
        )
        try:
            await self.jobs.create(job, await self.jobs.post(origin.id), now=now)
        except GatewayError as exc:
            raise await self._refuse(
                actor,
                request_id,
                "post.delete",
                origin.id,
                exc,
                origin.content_sha256,
                voids=decided["seq"],
            ) from None
        return job

    async def _published_origin(self, principal: Principal, job_id: str, action: str) -> Job:
        job = await self.jobs.require(job_id)
        if job.kind == "interaction":  # a comment or repost is not a post to edit or delete
            raise NotFound(f"no post {job_id!r}")
        origin = await self.jobs.require(job.origin) if job.origin else job
        account = await self.svc.accounts.require(origin.account)
        if not acts_for(self.svc.settings.policy, principal, account.unit):
            raise NotFound(f"no post {job_id!r}")
        busy = await self.jobs.active_for(origin.id)
        if busy is not None and busy.id != origin.id:
            raise Conflict(
                f"{busy.kind} {busy.id} of this post is still {busy.state}",
                reason="busy",
                job=busy.id,
            )
        if origin.state not in TERMINAL_FOR_EDIT:
            raise Conflict(
                f"post {origin.id} is {origin.state}; only published posts can be "
                "edited or deleted",
                reason="not_published",
                state=origin.state,
            )
        return origin
