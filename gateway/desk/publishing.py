"""Publishing a complete submission: one gate job per account, outcomes brought back.

:meth:`Publisher.release` hands a complete, due submission to :meth:`PublishGate.submit` as its
submitter, with the approval tokens the desk kept: the gate checks everything again, consumes
the tokens' ``jti`` with the job in one step, and the delivery worker publishes.
:meth:`Publisher.sync` reads the jobs back and settles the submission when they are final.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace

from gateway.approvals import MAX_TOKENS
from gateway.desk.model import JobRef, Submission, SubmissionState
from gateway.desk.notices import DeskNotices
from gateway.desk.store import SubmissionStore
from gateway.errors import GatewayError
from gateway.gate import PublishGate
from gateway.postmodel import Post, post_from_stored
from gateway.principals import Principal

log = logging.getLogger(__name__)

JOB_FINAL = frozenset({"published", "failed", "unconfirmed", "needs_reauth", "deleted"})
#: Submission states whose jobs the desk follows (a settled one can still change by hand).
FOLLOWED = frozenset({"publishing", "failed", "unconfirmed"})
RELEASING = "releasing"  # a job reference whose account the gate has not answered for yet
RELEASE_LEASE_S = 60.0
#: A scheduled submission's approvals must outlive its ``publish_at`` by this much, so that a
#: scheduler tick, a short outage or clock skew does not let them expire before release.
RELEASE_MARGIN_S = 600.0


class Publisher:
    def __init__(
        self,
        gate: PublishGate,
        store: SubmissionStore,
        notices: DeskNotices,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.gate = gate
        self.svc = gate.svc
        self.store = store
        self.notices = notices
        self.wake = wake
        self.owner = f"desk-{secrets.token_hex(6)}"

    async def release(self, submission_id: str, request_id: str = "") -> Submission:
        """Hand a complete, due submission to the publish gate, one job per account.

        Safe to call from many processes at once: a lease and the ``approved → publishing``
        transition let exactly one of them do it. Accounts the gate refuses (frozen meanwhile,
        a token expired) get a job reference with state ``failed`` and the gate's reason.
        """
        if not await self.store.claim(submission_id, self.owner, RELEASE_LEASE_S):
            return await self.store.require(submission_id)
        try:
            sub = await self.store.require(submission_id)
            if sub.state != "approved" or (sub.publish_at or 0) > time.time():
                return sub
            placeholders = tuple(JobRef(a, state=RELEASING) for a in sub.accounts)

            def start(s: Submission) -> Submission:
                if s.state != "approved":
                    return s
                return s.moved(
                    "publishing",
                    time.time(),
                    "released",
                    "",
                    "approvals complete; handed to the gate",
                    jobs=placeholders,
                )

            sub = await self.store.update(sub.id, start)
            if sub.state != "publishing":
                return sub
            tokens = list((await self.store.tokens(sub.id)).values())[:MAX_TOKENS]
            post = post_from_stored(sub.post)
            submitter = await self.svc.principals.get(sub.submitted_by)
            for account_id in sub.accounts:
                ref = await self._hand_over(sub, account_id, submitter, post, tokens, request_id)
                # recorded account by account: a crash loses at most the one in hand
                sub = await self.store.update(sub.id, functools.partial(_with_job, ref=ref))
            if self.wake is not None:
                self.wake()
            return await self.sync(sub)
        finally:
            await self.store.release(submission_id, self.owner)

    async def _hand_over(
        self,
        sub: Submission,
        account_id: str,
        submitter: Principal | None,
        post: Post,
        tokens: list[str],
        request_id: str,
    ) -> JobRef:
        if submitter is None or submitter.revoked:
            return JobRef(account_id, state="failed", reason="the submitter's key was revoked")
        try:
            job = await self.gate.submit(
                submitter, account_id=account_id, post=post, tokens=tokens, request_id=request_id
            )
        except GatewayError as exc:
            log.warning("submission %s: the gate refused %s: %s", sub.id, account_id, exc.detail)
            return JobRef(account_id, state="failed", reason=exc.detail)
        return JobRef(account_id, job.id, job.state)

    async def sync(self, sub: Submission) -> Submission:
        """Bring a submission's job outcomes up to date and derive its state from them.

        While any job is still moving it is ``publishing``; when all are final it settles as
        ``published`` (all published), else ``failed`` (one failed, needs re-authorisation or
        was deleted) or ``unconfirmed``. A settled submission keeps following its jobs, so a
        job Brand-PR resolves or retries later (``POST /v1/posts/{id}/resolve``) is reflected.
        Whoever settles it notifies, once per change.
        """
        if sub.state not in FOLLOWED or not sub.jobs:
            return sub
        fresh = [await self._fresh(sub, ref) for ref in sub.jobs]
        target = _outcome(fresh)
        if tuple(fresh) == sub.jobs and target == sub.state:
            return sub
        moved_here: list[bool] = []

        def change(current: Submission) -> Submission:
            moved_here.clear()
            if current.state not in FOLLOWED:
                return current
            current = replace(current, jobs=tuple(fresh))
            if target == current.state:
                return replace(current, updated_at=time.time())
            note = "; ".join(
                f"{j.account}: {j.state}" + (f" ({j.reason})" if j.reason else "") for j in fresh
            )
            moved_here.append(True)
            return current.moved(target, time.time(), target, "", note)

        updated = await self.store.update(sub.id, change)
        if moved_here and target != "publishing":  # this process settled it: it alone tells
            await self.notices.outcome(updated)
        return updated

    async def _fresh(self, sub: Submission, ref: JobRef) -> JobRef:
        job = await self.gate.jobs.get(ref.id) if ref.id else None
        if job is not None:
            return JobRef(ref.account, job.id, job.state, job.url, job.platform_id, job.reason)
        released_at = next((h.at for h in reversed(sub.history) if h.action == "released"), 0.0)
        if ref.state == RELEASING and time.time() - released_at > RELEASE_LEASE_S:
            # the releasing process died while the gate had this account in hand
            return replace(
                ref,
                state="unconfirmed",
                reason="the release was interrupted; check GET /v1/posts for this account "
                "before submitting again",
            )
        return ref

    async def release_due(self, now: float | None = None, limit: int = 20) -> int:
        """Release what is due (the scheduler's tick); returns how many were released."""
        count = 0
        for submission_id in await self.store.due(time.time() if now is None else now, limit):
            try:
                sub = await self.release(submission_id)
            except Exception:
                # one broken record must not hold back the others; it stays due
                log.exception("submission %s: release failed; retried next tick", submission_id)
                continue
            count += sub.state != "approved"
        return count

    async def sync_publishing(self) -> None:
        """The scheduler's follow-up: submissions being published and those unconfirmed."""
        for sub in await self.store.in_states(("publishing", "unconfirmed")):
            await self.sync(sub)

    async def release_if_due(self, sub: Submission) -> Submission:
        if sub.state == "approved" and (sub.publish_at or 0) <= time.time():
            return await self.release(sub.id)
        return sub


def _with_job(sub: Submission, ref: JobRef) -> Submission:
    jobs = tuple(ref if j.account == ref.account else j for j in sub.jobs)
    return replace(sub, jobs=jobs)


def _outcome(jobs: list[JobRef]) -> SubmissionState:
    states = {j.state for j in jobs}
    if not states <= JOB_FINAL:
        return "publishing"
    if states <= {"published"}:
        return "published"
    if states & {"failed", "needs_reauth", "deleted"}:
        return "failed"
    return "unconfirmed"
