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
            await self.store.release(submission_id)

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
        """Bring a ``publishing`` submission's job outcomes up to date; settle it when every
        job is final (``published``, else ``failed`` / ``unconfirmed``) and notify once."""
        if sub.state != "publishing" or not sub.jobs:
            return sub
        fresh: list[JobRef] = []
        released_at = next((h.at for h in reversed(sub.history) if h.action == "released"), 0.0)
        for ref in sub.jobs:
            job = await self.gate.jobs.get(ref.id) if ref.id else None
            if job is None:
                if ref.state == RELEASING and time.time() - released_at > RELEASE_LEASE_S:
                    # the releasing process died while the gate had this account in hand
                    fresh.append(
                        replace(
                            ref,
                            state="unconfirmed",
                            reason="the release was interrupted; check GET /v1/posts for this "
                            "account before submitting again",
                        )
                    )
                else:
                    fresh.append(ref)
                continue
            fresh.append(
                JobRef(ref.account, job.id, job.state, job.url, job.platform_id, job.reason)
            )
        states = {j.state for j in fresh}
        settled: SubmissionState | None = None
        if states <= JOB_FINAL:
            if states <= {"published"}:
                settled = "published"
            elif "failed" in states or "needs_reauth" in states or "deleted" in states:
                settled = "failed"
            else:
                settled = "unconfirmed"
        if tuple(fresh) == sub.jobs and settled is None:
            return sub

        settled_here: list[bool] = []

        def change(current: Submission) -> Submission:
            settled_here.clear()
            if current.state != "publishing":
                return current
            current = replace(current, jobs=tuple(fresh))
            if settled is None:
                return replace(current, updated_at=time.time())
            note = "; ".join(
                f"{j.account}: {j.state}" + (f" ({j.reason})" if j.reason else "") for j in fresh
            )
            settled_here.append(True)
            return current.moved(settled, time.time(), settled, "", note)

        updated = await self.store.update(sub.id, change)
        if settled_here:  # this process settled it: it alone tells people
            await self.notices.outcome(updated)
        return updated

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
        for sub in await self.store.in_states(("publishing",)):
            await self.sync(sub)

    async def release_if_due(self, sub: Submission) -> Submission:
        if sub.state == "approved" and (sub.publish_at or 0) <= time.time():
            return await self.release(sub.id)
        return sub


def _with_job(sub: Submission, ref: JobRef) -> Submission:
    jobs = tuple(ref if j.account == ref.account else j for j in sub.jobs)
    return replace(sub, jobs=jobs)
