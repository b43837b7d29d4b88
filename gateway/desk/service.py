"""The desk's services: submit, revise, withdraw, read, list, inbox, decide, attach, release.

Handlers (``gateway/api/desk.py``) and the console call these and nothing below them. Every
method takes the acting :class:`Principal`, checks what that principal may do, audits before it
answers (fail closed: no audit, no change) and raises :class:`GatewayError` subclasses that the
problem middleware turns into problem+json.

How a submission is published: approvals given on the desk are Ed25519 tokens signed for the
approver by :func:`gateway.desk.signing.sign_decision` (the code path of ``POST /v1/approvals``);
external OA tokens are verified by the gate's own check. When the required set is complete and
``publish_at`` has come, :meth:`DeskService.release` hands the post and the kept tokens to
:meth:`PublishGate.submit` for each account, as the submitter: the gate checks everything again,
consumes the tokens' ``jti`` with the job in one step and the delivery worker publishes. The
editor never sees a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from gateway.accounts import Account
from gateway.desk.decisions import Decisions
from gateway.desk.model import (
    EDITABLE_STATES,
    InboxItem,
    Preview,
    Submission,
    SubmissionState,
    new_submission_id,
)
from gateway.desk.notices import DeskNotices
from gateway.desk.publishing import RELEASE_MARGIN_S, Publisher
from gateway.desk.rules import (
    APPROVER_ROLES,
    decided_by,
    matching,
    may_read,
    merge_required,
    require_state,
)
from gateway.desk.store import SubmissionStore
from gateway.errors import (
    Conflict,
    ContentBlocked,
    Forbidden,
    GatewayError,
    NotFound,
    field_error,
)
from gateway.gate import PublishGate, nfc_post, post_hash
from gateway.notify.notice import NoticeSink
from gateway.postmodel import Post, post_to_stored
from gateway.principals import Principal
from gateway.requirements import Requirement, required_approvals
from gateway.services import actor_of
from gateway.settings import Policy
from screening.findings import Finding

log = logging.getLogger(__name__)


class DeskService:
    """The review desk over the store, the publish gate and the notice outbox."""

    def __init__(
        self,
        gate: PublishGate,
        store: SubmissionStore,
        notices: NoticeSink | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.gate = gate
        self.svc = gate.svc
        self.store = store
        self.notices = DeskNotices(notices)
        self.publisher = Publisher(gate, store, self.notices, wake)
        self.decisions = Decisions(self)

    @property
    def policy(self) -> Policy:
        return self.svc.settings.policy

    # --- submissions --------------------------------------------------------------------------
    async def submit(
        self,
        principal: Principal,
        *,
        accounts: Sequence[str],
        post: Post,
        publish_at: float | None = None,
        campaign: str = "",
        note: str = "",
        request_id: str = "",
        previous: Submission | None = None,
        revised_by: Principal | None = None,
    ) -> Submission:
        """Keep ``post`` for ``accounts``, screened, with the approvals it needs; tell approvers.

        ``principal`` is the submitter: the route (who must approve) is theirs. ``revised_by``
        is Brand-PR when it adapted someone's text (:meth:`resubmit`); it is the actor audited.

        Raises :class:`ValidationFailed` (no accounts, platform limits, no source),
        :class:`NotFound` / :class:`Forbidden` / :class:`Conflict` / :class:`Locked` for an
        account the principal may not publish to (unknown, other unit, not filed, frozen),
        :class:`ContentBlocked` (422 with findings; audited, Art. 8 alert sent) and
        :class:`Forbidden` ``rejected`` when this exact content was already rejected.
        """
        if not accounts:
            raise field_error("accounts", "name at least one account")
        actor = revised_by or principal
        ttl_s = self.svc.settings.approvals.token_ttl_s
        if publish_at is not None and publish_at > time.time() + ttl_s - RELEASE_MARGIN_S:
            raise field_error(
                "publish_at",
                f"more than approvals.token_ttl_s ({ttl_s} s) less {RELEASE_MARGIN_S:.0f} s "
                "ahead: approvals given now would expire before it; submit closer to the date",
            )
        post = nfc_post(post)
        digest = post_hash(post)
        owned: list[Account] = []
        for i, account_id in enumerate(dict.fromkeys(accounts)):
            try:
                account = await self.gate.authorise(principal, account_id)
                self.gate.validate(post, account, digest)
            except GatewayError as exc:
                if "field" in exc.extra and len(accounts) > 1:
                    exc.extra["field"] = f"accounts[{i}]"
                await self.audit(
                    actor,
                    "submission.refused",
                    account_id,
                    request_id,
                    result="refused",
                    decision=exc.slug,
                    reasons=[exc.detail],
                    content_sha256=digest,
                )
                raise
            owned.append(account)
        screen = await self.gate.screening.screen(post.texts())
        findings = tuple(f.to_json() for f in screen.findings)
        targets = ",".join(a.id for a in owned)
        if screen.decision == "block":
            blocking = [f for f in screen.findings if f.action == "block"]
            await self.audit(
                actor,
                "submission.refused",
                targets,
                request_id,
                result="refused",
                decision="block",
                reasons=[f"{f.category}:{f.rule}" for f in blocking],
                content_sha256=digest,
            )
            await self.notices.blocked(
                self.policy, principal, [a.id for a in owned], blocking, digest
            )
            raise ContentBlocked(
                "the content may not be published whatever approvals it gets (Art. 18, 21): "
                + "; ".join(f"{f.category} '{f.text}' in {f.field}" for f in blocking[:5]),
                findings=list(findings),
                content_sha256=digest,
            )
        for account in owned:
            rejections = await self.gate.approvals.rejections(digest, account.id)
            if rejections:
                raise Forbidden(
                    "this exact content was rejected: "
                    + "; ".join(
                        f"{r['role']} {r['name'] or r['by']}: {r['reason']}" for r in rejections
                    )
                    + " — change it and submit again",
                    reason="rejected",
                    rejections=rejections,
                    content_sha256=digest,
                )
        per_account = self._required(principal, owned, post, screen.findings)
        now = time.time()
        sub = Submission(
            id=new_submission_id(),
            version=previous.version + 1 if previous else 1,
            state="awaiting_approval",
            accounts=tuple(a.id for a in owned),
            units=tuple(a.unit for a in owned),
            submitted_by=principal.id,
            submitter_name=principal.name,
            submitter_role=principal.role,
            submitter_unit=principal.unit,
            created_at=now,
            updated_at=now,
            content_sha256=digest,
            title=post.title[:200],
            post=post_to_stored(post),
            screen_decision=screen.decision,
            findings=findings,
            required=merge_required(per_account),
            publish_at=publish_at,
            campaign=campaign,
            note=note,
            previous=previous.id if previous else "",
            revised_by=revised_by.id if revised_by else "",
            revised_by_name=revised_by.name if revised_by else "",
        )
        action = "submission.revise" if previous else "submission.create"
        sub = sub.moved(
            "awaiting_approval",
            now,
            "revised" if previous else "submitted",
            actor.id,
            f"version {sub.version}"
            + (f" replaces {previous.id}" if previous else "")
            + (f"; adapted by Brand-PR {actor.name or actor.id}" if revised_by else ""),
        )
        await self.audit(
            actor,
            action,
            sub.id,
            request_id,
            decision="awaiting_approval",
            content_sha256=digest,
            reasons=[f"needs {r.label}" for r in sub.required],
            details={
                "accounts": list(sub.accounts),
                "previous": sub.previous,
                "publish_at": publish_at,
                "findings": len(findings),
            },
        )
        await self.store.create(sub)
        await self.notices.submitted(sub)
        return sub

    async def preview(
        self, principal: Principal, *, accounts: Sequence[str], post: Post
    ) -> Preview:
        """What :meth:`submit` would find, without keeping anything (the console's compose page).

        Raises what :meth:`submit` raises for the accounts (unknown, other unit, not filed,
        frozen) and for platform limits; a blocked post is not an error here: the preview says
        ``block`` with its findings.
        """
        if not accounts:
            raise field_error("accounts", "name at least one account")
        post = nfc_post(post)
        digest = post_hash(post)
        owned = [await self.gate.authorise(principal, a) for a in dict.fromkeys(accounts)]
        for account in owned:
            self.gate.validate(post, account, digest)
        screen = await self.gate.screening.screen(post.texts())
        required = merge_required(self._required(principal, owned, post, screen.findings))
        return Preview(
            content_sha256=digest,
            decision=screen.decision,
            findings=tuple(f.to_json() for f in screen.findings),
            required=() if screen.decision == "block" else required,
        )

    def _required(
        self,
        principal: Principal,
        owned: Sequence[Account],
        post: Post,
        findings: Sequence[Finding],
    ) -> dict[str, list[Requirement]]:
        return {
            a.id: required_approvals(
                policy=self.policy,
                account=a,
                submitter=principal,
                post_category=post.category,
                findings=findings,
            )
            for a in owned
        }

    async def resubmit(
        self, principal: Principal, submission_id: str, post: Post, request_id: str = ""
    ) -> Submission:
        """A new version of a submission (``PUT``): a new submission, the old one ``superseded``.

        Only the submitter (or Brand-PR) edits, and only while the submission is
        ``awaiting_approval``, ``rejected`` or ``approved``. Approvals of the old version stay
        with it: they are bound to its hash and do not count for the new one.

        When Brand-PR adapts someone else's text (the hub, Art. 17(1)), the new version keeps the
        sending editor as its submitter, so its route is unchanged (its unit head approves the
        adapted text again, then it is published for that editor), records Brand-PR in
        ``revised_by``, and Brand-PR's edit is its own approval of the new text (a token signed
        like every desk approval; not when the requirement needs an attestation, which Brand-PR
        gives explicitly). Raises :class:`NotFound`, :class:`Forbidden` ``not_submitter``,
        :class:`Conflict` (wrong state) and whatever :meth:`submit` raises.
        """
        old = await self.visible(principal, submission_id)
        if principal.id != old.submitted_by and principal.role != "brand_pr":
            raise Forbidden(
                "only the submitter (or Brand-PR) edits a submission", reason="not_submitter"
            )
        require_state(old, EDITABLE_STATES, "edited")
        new_id_holder: list[str] = []

        def supersede(current: Submission) -> Submission:
            require_state(current, EDITABLE_STATES, "edited")
            return current.moved(
                "superseded",
                time.time(),
                "superseded",
                principal.id,
                f"replaced by {new_id_holder[0]}",
                superseded_by=new_id_holder[0],
            )

        hub_edit = principal.id != old.submitted_by
        origin = principal
        if hub_edit:
            found = await self.svc.principals.get(old.submitted_by)
            if found is None or found.revoked:
                raise Conflict(
                    "the submitter's key no longer exists or was revoked; submit it anew",
                    reason="submitter_unknown",
                )
            origin = found
        new = await self.submit(
            origin,
            accounts=old.accounts,
            post=post,
            publish_at=old.publish_at,
            campaign=old.campaign,
            note=old.note,
            request_id=request_id,
            previous=old,
            revised_by=principal if hub_edit else None,
        )
        new_id_holder.append(new.id)
        try:
            await self.store.update(old.id, supersede)
        except GatewayError:
            # the old version moved on meanwhile (withdrawn, published): the new one stands
            # alone, withdrawn, so nothing is published twice
            await self.store.update(
                new.id,
                lambda s: s.moved(
                    "withdrawn",
                    time.time(),
                    "withdrawn",
                    principal.id,
                    f"{old.id} changed state while this version was made",
                ),
            )
            raise
        if hub_edit:
            wanted = matching(self.policy, principal, new)
            if wanted and not any(r.attest for r in wanted):
                new = await self.decide(
                    principal, new.id, decision="approve", request_id=request_id
                )
        return new

    async def withdraw(
        self, principal: Principal, submission_id: str, request_id: str = ""
    ) -> Submission:
        """The submitter takes a submission back (``DELETE``): ``withdrawn``, nothing published.

        Raises :class:`NotFound`, :class:`Forbidden` ``not_submitter`` and :class:`Conflict`
        when it is past approval (publishing or final).
        """
        sub = await self.visible(principal, submission_id)
        if principal.id != sub.submitted_by:
            raise Forbidden("only the submitter withdraws a submission", reason="not_submitter")
        require_state(sub, EDITABLE_STATES, "withdrawn")
        await self.audit(
            principal,
            "submission.withdraw",
            sub.id,
            request_id,
            decision="withdrawn",
            content_sha256=sub.content_sha256,
        )

        def change(current: Submission) -> Submission:
            require_state(current, EDITABLE_STATES, "withdrawn")
            return current.moved("withdrawn", time.time(), "withdrawn", principal.id)

        return await self.store.update(sub.id, change)

    async def get(self, principal: Principal, submission_id: str) -> Submission:
        """One submission the principal may see (the submitter, approvers in scope, Brand-PR,
        auditors, admins), its job outcomes brought up to date. :class:`NotFound` otherwise."""
        sub = await self.visible(principal, submission_id)
        return await self.sync(sub)

    async def list_for(
        self,
        principal: Principal,
        *,
        state: SubmissionState | None = None,
        mine: bool = False,
        limit: int = 100,
    ) -> list[Submission]:
        """Submissions the principal may see, newest first: editors their own, approvers also
        those in their scope, Brand-PR / auditors / admins all; ``mine`` keeps only their own."""
        found = await self.store.newest(state=state, limit=max(limit * 4, 200))
        visible = [
            s
            for s in found
            if (s.submitted_by == principal.id)
            or (not mine and may_read(self.policy, principal, s))
        ]
        return visible[:limit]

    async def inbox_for(self, principal: Principal) -> list[InboxItem]:
        """What waits for the principal: submissions awaiting an approval of their role (and
        unit) in their scope, not their own, not already decided by them on this version."""
        if principal.role not in APPROVER_ROLES:
            return []
        items: list[InboxItem] = []
        for sub in await self.store.in_states(("awaiting_approval",)):
            if sub.submitted_by == principal.id or decided_by(sub, principal.id):
                continue
            wanted = matching(self.policy, principal, sub)
            if wanted:
                items.append(InboxItem(sub, wanted[0]))
        items.sort(key=lambda i: i.submission.created_at)
        return items

    # --- decisions (gateway/desk/decisions.py) -----------------------------------------------
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
        """An approver in scope approves or rejects this version (see :meth:`Decisions.decide`)."""
        return await self.decisions.decide(
            principal,
            submission_id,
            decision=decision,
            reason=reason,
            attest=attest,
            request_id=request_id,
        )

    async def attach_token(
        self, principal: Principal, submission_id: str, token: str, request_id: str = ""
    ) -> Submission:
        """Attach an external approval token (see :meth:`Decisions.attach_token`)."""
        return await self.decisions.attach_token(principal, submission_id, token, request_id)

    # --- publishing (gateway/desk/publishing.py) ----------------------------------------------
    async def release(self, submission_id: str, request_id: str = "") -> Submission:
        """Hand a complete, due submission to the publish gate (see :class:`Publisher`)."""
        return await self.publisher.release(submission_id, request_id)

    async def sync(self, sub: Submission) -> Submission:
        """Bring a ``publishing`` submission's job outcomes up to date (notifies once)."""
        return await self.publisher.sync(sub)

    async def release_due(self, now: float | None = None, limit: int = 20) -> int:
        """Release what is due (the scheduler's tick); returns how many were released."""
        return await self.publisher.release_due(now, limit)

    async def sync_publishing(self) -> None:
        await self.publisher.sync_publishing()

    # --- helpers ------------------------------------------------------------------------------
    async def visible(self, principal: Principal, submission_id: str) -> Submission:
        sub = await self.store.get(submission_id)
        if sub is None or not may_read(self.policy, principal, sub):
            raise NotFound(f"no submission {submission_id!r}")
        return sub

    async def audit(
        self, principal: Principal, action: str, target: str, request_id: str, **record: Any
    ) -> None:
        try:
            await self.svc.audit.append(
                actor=actor_of(principal),
                action=action,
                target=target,
                request_id=request_id,
                **record,
            )
        except Exception:
            self.svc.metrics.audit_failures.inc()
            raise

    async def alert_blocked(
        self, principal: Principal, account: Account, findings: Sequence[Finding], digest: str
    ) -> None:
        """The gate's ``on_blocked`` hook: Art. 8 alerts for blocked ``POST /v1/posts`` too."""
        await self.notices.blocked(self.policy, principal, [account.id], findings, digest)
