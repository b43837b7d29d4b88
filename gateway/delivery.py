"""The delivery worker: moves approved jobs to the platforms, effectively once.

Every gateway process runs one worker with ``delivery.workers`` concurrent slots. A worker
claims a due job with a lease (``SET NX PX``) that it renews while it works; if its process dies
the lease expires and another process resumes the job from its last checkpoint. Connectors
checkpoint each platform step before taking the next and mark the intent of a step that cannot
be repeated, so a resumed job never repeats a step that may have reached the platform: an
uncertain outcome (:class:`Unconfirmed`) is reconciled through :meth:`Connector.status`.

What happens on each outcome:

* ``Published``           → ``published`` (audited);
* ``Pending``             → ``pending``, polled through ``status()`` after ``poll_after_s``;
* ``RetryLater``          → same state, retried after ``after_s`` (bounded by ``max_attempts``,
                            then ``failed``);
* ``Unconfirmed``         → reconciled through ``status()`` a few times, then ``unconfirmed``
                            with the reason, for Brand-PR to resolve;
* ``NeedsReauthorisation``→ ``needs_reauth`` (job kept; retried after the vault is refreshed);
* ``PermanentFailure``    → ``failed`` with the platform's reason.

Before each platform call the freeze switch and the account's state are checked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import RedisError

from connectors.base import (
    AccountRef,
    Connector,
    Deleted,
    DeliveryOutcome,
    Interactor,
    NeedsReauthorisation,
    Pending,
    PermanentFailure,
    Published,
    RetryLater,
    Unconfirmed,
)
from gateway.audit import SYSTEM
from gateway.interactions.model import interaction_from_stored
from gateway.jobs import Job, JobStore
from gateway.keys import Keys
from gateway.platform_media import AccountMediaLibrary
from gateway.postmodel import post_from_stored
from gateway.services import Services
from gateway.vault import Vault, VaultError

log = logging.getLogger(__name__)

RECONCILE_ATTEMPTS = 5
FROZEN_RECHECK_S = 5.0


class VaultTokenCache:
    """Platform access tokens, encrypted with the vault's master key, shared through Redis."""

    def __init__(self, redis: aredis.Redis, keys: Keys, vault: Vault, account: str) -> None:
        self._redis = redis
        self._keys = keys
        self._vault = vault
        self._account = account

    async def get(self, name: str) -> str | None:
        raw = await self._redis.get(self._keys.platform_token(self._account, name))
        if raw is None:
            return None
        try:
            return self._vault.unseal_token(self._account, name, json.loads(raw))
        except VaultError:
            return None

    async def set(self, name: str, value: str, ttl_s: float) -> None:
        sealed = self._vault.seal_token(self._account, name, value)
        await self._redis.set(
            self._keys.platform_token(self._account, name),
            json.dumps(sealed),
            px=max(1, int(ttl_s * 1000)),
        )

    async def delete(self, name: str) -> None:
        await self._redis.delete(self._keys.platform_token(self._account, name))

    @asynccontextmanager
    async def _locked(self, name: str, ttl_s: float) -> AsyncIterator[None]:
        lock = self._redis.lock(
            self._keys.platform_token_lock(self._account, name),
            timeout=ttl_s,
            blocking_timeout=ttl_s,
            sleep=0.02,
        )
        if not await lock.acquire():
            raise RetryLater(f"token refresh lock for {self._account} is busy", after_s=1.0)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await lock.release()

    def lock(self, name: str, ttl_s: float = 30.0) -> Any:
        return self._locked(name, ttl_s)


class JobContext:
    """The :class:`PublishContext` the pipeline hands to a connector for one job."""

    def __init__(
        self,
        job: Job,
        account: AccountRef,
        state: dict[str, Any],
        store: JobStore,
        vault: Vault,
        tokens: VaultTokenCache,
        media: AccountMediaLibrary | None = None,
    ) -> None:
        self._job = job
        self.media = media  # the account's media already on the platform (optional member)
        self._account = account
        self._state = state
        self._store = store
        self._vault = vault
        self._tokens = tokens

    @property
    def job_id(self) -> str:
        return self._job.checkpoint_job

    @property
    def account(self) -> AccountRef:
        return self._account

    @property
    def state(self) -> Mapping[str, Any]:
        return self._state

    @property
    def tokens(self) -> VaultTokenCache:
        return self._tokens

    async def credentials(self) -> Mapping[str, str]:
        return await self._vault.open(self._account.id)

    async def checkpoint(self, **updates: Any) -> None:
        await self._store.checkpoint(self._job.checkpoint_job, updates)
        self._state.update(updates)

    def __repr__(self) -> str:
        return f"JobContext(job={self._job.id!r}, account={self._account.id!r})"


class DeliveryWorker:
    def __init__(
        self, services: Services, jobs: JobStore, connectors: Mapping[str, Connector]
    ) -> None:
        self.svc = services
        self.jobs = jobs
        self.connectors = connectors
        self.owner = f"worker-{secrets.token_hex(6)}"
        self._settings = services.settings.delivery
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: set[str] = set()
        self.processed = 0
        self._stopping = False
        # Upper bound on the back-off a connector asks for (RetryLater.after_s); the demo and
        # the fault tests shorten it so a run with many injected faults stays short.
        self.max_retry_after_s = math.inf

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        for i in range(max(1, self._settings.workers)):
            self._tasks.append(asyncio.create_task(self._loop(), name=f"delivery-{i}"))

    async def stop(self) -> None:
        # A cancellation that lands inside a Redis call can be turned into a connection error
        # by the client; the flag makes the loop stop anyway.
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._stopping or (task is not None and task.cancelling()):
                    raise
                # A CancelledError that escaped a library call is not a request to stop: a
                # worker slot that died on it would leave its jobs to the other slots forever.
                log.error("delivery: stray cancellation inside a job; continuing")
                worked = False
            except RedisError as exc:
                log.warning("delivery: store unavailable (%s); retrying", type(exc).__name__)
                worked = False
            except Exception:
                log.exception("delivery loop error")
                worked = False
            if not worked:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._settings.poll_interval_s):
                        await self._wake.wait()

    async def run_once(self) -> bool:
        """Claim and process one due job; False if there was none."""
        for job_id in await self.jobs.due(time.time(), limit=20):
            if job_id in self._busy:
                continue
            if not await self.jobs.claim(job_id, self.owner, self._settings.lease_s):
                continue
            self._busy.add(job_id)
            try:
                await self._with_lease(job_id)
            finally:
                self._busy.discard(job_id)
                await self.jobs.release(job_id, self.owner)
            self.processed += 1
            return True
        return False

    async def _with_lease(self, job_id: str) -> None:
        lease_s = self._settings.lease_s
        work = asyncio.create_task(self.process(job_id), name=f"deliver-{job_id}")

        async def renew() -> None:
            # Keep renewing through a store outage: a renewer that died on the first error
            # would let the lease lapse while this worker is still mid-step, and a second
            # worker would then run the same job concurrently. The loop ends with the work:
            # the Redis client may turn our own cancellation into a ConnectionError, and a
            # renewer that survived it would hold the lease of a finished job forever.
            while not work.done():
                await asyncio.sleep(lease_s / 3)
                if work.done():
                    return
                try:
                    if await self.jobs.renew(job_id, self.owner, lease_s):
                        continue
                    if work.done():
                        return
                    if await self.jobs.claim(job_id, self.owner, lease_s):
                        log.warning("delivery: lease of %s had lapsed; taken again", job_id)
                        continue
                except RedisError as exc:
                    log.warning("delivery: lease renewal of %s failed (%s)", job_id, exc)
                    continue
                # Another worker holds the job now: stop here as if this process had died;
                # the checkpoints let the other worker continue without repeating a step.
                log.error("delivery: lease of %s taken by another worker; stopping", job_id)
                work.cancel()
                return

        renewer = asyncio.create_task(renew(), name=f"lease-{job_id}")
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await work
            if work.cancelled() and not renewer.done():
                raise asyncio.CancelledError  # we were cancelled ourselves (shutdown)
        finally:
            renewer.cancel()
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError):
                await renewer
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work

    async def process(self, job_id: str) -> None:
        job = await self.jobs.get(job_id)
        if job is None:
            await self.jobs.dequeue(job_id)
            return
        if job.audit_due:
            await self._write_outcome_audit(job)
            return
        if job.state not in ("approved", "dispatching", "pending"):
            await self.jobs.dequeue(job_id)
            return
        account = await self.svc.accounts.get(job.account)
        if account is None or account.state != "active":
            await self._finish(job, "failed", reason=f"account {job.account} is no longer active")
            return
        freeze = await self.svc.freeze.blocking(account=account.id, unit=account.unit)
        if freeze and job.state == "approved":
            # Nothing has been sent yet: hold the job until the freeze is lifted.
            await self.jobs.requeue(job.id, time.time() + FROZEN_RECHECK_S)
            return
        connector = self.connectors.get(job.platform)
        if connector is None:
            await self._finish(job, "failed", reason=f"no connector for platform {job.platform}")
            return
        vault = self.svc.vault_
        if vault is None:
            await self.jobs.requeue(job.id, time.time() + FROZEN_RECHECK_S)
            return
        if job.state == "approved":
            job = await self.jobs.transition(
                job.id, "dispatching", attempts=job.attempts + 1, note="claimed by " + self.owner
            )
        ref = AccountRef(account.id, account.platform, account.name, account.settings)
        ctx = JobContext(
            job,
            ref,
            await self.jobs.checkpoints(job.checkpoint_job),
            self.jobs,
            vault,
            VaultTokenCache(self.svc.redis, self.svc.keys, vault, account.id),
            AccountMediaLibrary(self.svc.redis, self.svc.keys, account.id),
        )
        stored = await self.jobs.post(job.id)
        reconcile = job.state == "pending" or bool(job.details.get("reconcile"))
        try:
            if job.kind == "interaction":
                # interact() reconciles from its own checkpoints; there is no status() step
                outcome: Any = await _interact(connector, stored, job, ctx)
            elif job.kind == "delete":
                outcome = await connector.delete(ctx)
            elif reconcile:
                outcome = await connector.status(ctx)
            elif job.kind == "update":
                post = post_from_stored(stored).outbound(job.content_sha256)
                outcome = await connector.update(post, ctx)
            else:
                post = post_from_stored(stored).outbound(job.content_sha256)
                outcome = await connector.publish(post, ctx)
        except NeedsReauthorisation as exc:
            await self._finish(job, "needs_reauth", reason=exc.reason)
        except PermanentFailure as exc:
            await self._finish(job, "failed", reason=exc.reason)
        except Unconfirmed as exc:
            tries = int(job.details.get("reconcile_tries", 0)) + 1
            if tries >= RECONCILE_ATTEMPTS:
                await self._finish(job, "unconfirmed", reason=exc.reason)
            else:
                await self.jobs.transition(
                    job.id,
                    job.state,
                    note=f"unconfirmed ({exc.reason}); reconciling",
                    details={**job.details, "reconcile": True, "reconcile_tries": tries},
                    due_at=time.time() + min(2.0**tries, 60.0) * 0.25,
                )
        except RetryLater as exc:
            if job.attempts >= self._settings.max_attempts:
                # A pending job was accepted by the platform: giving up on following it does
                # not make it unpublished, so it is left for a human, not marked failed.
                gave_up = "unconfirmed" if job.state == "pending" else "failed"
                await self._finish(
                    job, gave_up, reason=f"gave up after {job.attempts} attempts: {exc.reason}"
                )
            else:
                # From status(), RetryLater means "nothing took effect: publish again".
                await self.jobs.transition(
                    job.id,
                    job.state,
                    attempts=job.attempts + 1,
                    note=f"retry later: {exc.reason}",
                    details={**job.details, "reconcile": False, "reconcile_tries": 0},
                    due_at=time.time() + max(0.05, min(exc.after_s, self.max_retry_after_s)),
                )
        except DeliveryOutcome as exc:  # pragma: no cover - every subclass is handled above
            await self._finish(job, "failed", reason=exc.reason)
        else:
            if isinstance(outcome, Published):
                await self._finish(
                    job,
                    "published",
                    platform_id=outcome.platform_id,
                    url=outcome.url,
                    note=str(outcome.details.get("note") or ""),
                )
            elif isinstance(outcome, Deleted):
                await self._finish(job, "deleted", platform_id=outcome.platform_id)
            elif isinstance(outcome, Pending):
                await self.jobs.transition(
                    job.id,
                    "pending",
                    platform_id=outcome.platform_id,
                    note=str(
                        outcome.details.get("note")
                        or "accepted by the platform; waiting for it to publish"
                    ),
                    details={**job.details, "reconcile": False, "reconcile_tries": 0},
                    due_at=time.time() + outcome.poll_after_s,
                )

    async def _finish(
        self,
        job: Job,
        state: str,
        *,
        reason: str = "",
        platform_id: str = "",
        url: str = "",
        note: str = "",
    ) -> None:
        changes: dict[str, Any] = {"reason": reason, "audit_due": state}
        if platform_id:
            changes["platform_id"] = platform_id
        if url:
            changes["url"] = url
        job = await self.jobs.transition(
            job.id,
            state,  # type: ignore[arg-type]
            note=reason or (f"{state}: {note}" if note else state),
            **changes,
        )
        self.svc.metrics.deliveries.inc(job.platform, state)
        if job.kind != "publish" and job.origin and state in ("published", "deleted"):
            origin_changes: dict[str, Any] = {"url": url} if url else {}
            if state == "deleted":
                await self.jobs.transition(job.origin, "deleted", note=f"deleted by {job.id}")
            elif origin_changes:
                await self.jobs.transition(
                    job.origin, "published", note=f"updated by {job.id}", **origin_changes
                )
        await self._write_outcome_audit(job)

    async def _write_outcome_audit(self, job: Job) -> None:
        try:
            await self.svc.audit.append(
                actor=SYSTEM,
                action=f"{'interaction' if job.kind == 'interaction' else 'delivery'}."
                f"{job.audit_due}",
                target=job.id,
                result=job.audit_due,
                reasons=[job.reason] if job.reason else [],
                content_sha256=job.content_sha256,
                details={
                    "account": job.account,
                    "platform": job.platform,
                    "kind": job.kind,
                    "platform_id": job.platform_id,
                    "url": job.url,
                },
            )
        except Exception:
            # The outcome is recorded on the job; its audit record is written on a later pass.
            log.error("delivery: audit of %s outcome %s deferred", job.id, job.audit_due)
            await self.jobs.requeue(job.id, time.time() + 1.0)
            return
        await self.jobs.transition(job.id, job.state, audit_due="")
        await self.jobs.dequeue(job.id)


async def _interact(
    connector: Connector, stored: Mapping[str, Any], job: Job, ctx: JobContext
) -> Published:
    """Deliver an ``interaction`` job (gateway/interactions/, docs/interactions.md)."""
    if not isinstance(connector, Interactor):
        raise PermanentFailure(f"the {job.platform} connector takes no interactions")
    return await connector.interact(interaction_from_stored(stored, job.content_sha256), ctx)
