"""The bypass reconciler (Art. 19, 22; docs/bypass.md): what each account holds on its platform,
compared with what the gateway published there.

For every **active** account whose connector is a :class:`connectors.base.Lister`, a pass

1. takes the account's lease (``SET NX PX``): one process at a time reconciles an account;
2. builds the gateway's view from the account's jobs: the live content of every item the
   gateway published (a ``publish`` job, superseded by its latest published ``update``; a
   published ``delete`` means the item is expected gone), and the content of jobs that may be on
   the platform without a known id yet (in flight, ``unconfirmed``, ``needs_reauth``, recently
   ``failed``);
3. lists the platform (``recent(since=now - window_s)``) and compares by platform id and
   :func:`connectors.base.fingerprint`: an unknown id with content no job accounts for is an
   ``unapproved_publish``, a known id with other content an ``unapproved_edit`` (with a diff);
4. confirms gateway items of the window that the listing lacks with ``fetch()`` (at most
   ``max_fetches_per_pass``): gone → ``removed_outside``;
5. only when every platform call of the pass succeeded, records the findings as alerts
   (:class:`gateway.watch.alerts.AlertStore`, at most once each across processes), writes an
   ``alert.raised`` audit record (its ``seq`` is stored on the alert) and queues an Art. 8 notice
   for Brand-PR. A listing fault (:class:`~connectors.base.DeliveryOutcome`, a timeout) ends the
   pass with no alert; the next interval tries again.

Passes run in the background (:meth:`Reconciler.start`) in processes with delivery workers, and
on demand through ``POST /v1/accounts/{account}/reconcile`` (:meth:`Reconciler.run_pass`).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from redis.exceptions import RedisError

from connectors.base import (
    AccountRef,
    Connector,
    DeliveryOutcome,
    Lister,
    NeedsReauthorisation,
    RemoteItem,
    RetryLater,
    fingerprint,
)
from gateway.accounts import Account
from gateway.audit import SYSTEM
from gateway.delivery import VaultTokenCache
from gateway.errors import NotFound
from gateway.jobs import ACTIVE_STATES, Job
from gateway.keys import text
from gateway.notify.notice import Notice, NoticeSink, Recipient
from gateway.postmodel import post_from_stored
from gateway.services import Services
from gateway.vault import Vault
from gateway.watch.alerts import Alert, AlertKind, AlertStore, dedupe_key, new_alert_id

log = logging.getLogger(__name__)

#: Job states whose content may be on the platform although no platform id is known for it.
MAYBE_LIVE_STATES = frozenset({*ACTIVE_STATES, "unconfirmed", "needs_reauth", "failed"})
#: States of an update/delete job that mean "the gateway is changing this item".
CHANGING_STATES = frozenset({*ACTIVE_STATES, "unconfirmed", "needs_reauth"})
KIND_WORDS = {
    "unapproved_publish": "未经审核发布",
    "unapproved_edit": "发布后被修改",
    "removed_outside": "在平台上被删除",
}
EXCERPT_CHARS = 200
_LINK = re.compile(r"https?://\S+")
_LOOSE_DROP = str.maketrans("", "", "【】")


def loose_text(*parts: str) -> str:
    """A repost's words as a timeline shows them: no links (Weibo rewrites them), no brackets
    around a title (the listing splits a leading 【title】 off), no whitespace."""
    joined = _LINK.sub("", "".join(parts)).translate(_LOOSE_DROP)
    return "".join(joined.split())


DIFF_MAX_CHARS = 20_000
_SCAN_CHUNK = 500
_SCAN_OVERLAP_S = 300.0  # jobs are indexed by creation time as each process's clock saw it
_FULL_SCAN_S = 6 * 3600.0  # the whole job index is read again this often (self-healing)
_CACHE_SIZE = 20_000
_RELEASE_LUA = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
    "else return 0 end"
)


class ListingContext:
    """The :class:`connectors.base.PublishContext` of a listing call: the account's credentials
    from the vault and the shared token cache, no job and no checkpoints (listing changes
    nothing)."""

    def __init__(self, account: AccountRef, vault: Vault, tokens: VaultTokenCache) -> None:
        self._account = account
        self._vault = vault
        self._tokens = tokens
        self._state: Mapping[str, Any] = MappingProxyType({})

    @property
    def job_id(self) -> str:
        return f"watch:{self._account.id}"

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
        raise RuntimeError("a listing call must not checkpoint: it changes nothing")

    def __repr__(self) -> str:
        return f"ListingContext(account={self._account.id!r})"


@dataclass(frozen=True)
class Expected:
    """One item the gateway published (or one earlier version of it, for WeChat updates)."""

    origin: str  # the publish job
    job: Job  # the job whose approved content the item should show
    platform_id: str
    published_at: float
    url: str = ""
    gone: bool = False  # deleted through the gateway
    changing: bool = False  # an update or delete of it is in flight or unresolved


@dataclass
class View:
    """The gateway's view of one account. Approved contents are read lazily, for the items a
    pass actually compares."""

    items: dict[str, Expected] = field(default_factory=dict)  # live items by platform id
    superseded: dict[str, Expected] = field(default_factory=dict)  # earlier versions' ids
    maybe_live: set[str] = field(default_factory=set)  # fingerprints without a known id
    # reposts through the gateway (interaction jobs, docs/interactions.md) are new items of the
    # account too: the ids of delivered ones, the loose texts of those still settling
    reposts: set[str] = field(default_factory=set)
    reposts_settling: list[str] = field(default_factory=list)

    def is_repost(self, item: RemoteItem) -> bool:
        if item.platform_id in self.reposts:
            return True
        shown = loose_text(item.title, item.text)
        return any(t and shown.startswith(t) for t in self.reposts_settling)

    def known(self, platform_id: str) -> Expected | None:
        return self.items.get(platform_id) or self.superseded.get(platform_id)


@dataclass(frozen=True)
class Finding:
    kind: AlertKind
    platform_id: str
    dedupe_fingerprint: str = ""
    title: str = ""
    url: str = ""
    job: str = ""
    diff: str = ""
    excerpt: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class PassReport:
    """What one pass over one account found (the answer of the reconcile route)."""

    account: str
    platform: str
    listed: bool = False
    result: str = "ok"  # ok | busy | unavailable | needs_reauth | error
    reason: str = ""
    items_seen: int = 0
    fetched: int = 0
    alerts: list[Alert] = field(default_factory=list)
    at: float = field(default_factory=time.time)

    def public(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "platform": self.platform,
            "listed": self.listed,
            "result": self.result,
            "reason": self.reason,
            "items_seen": self.items_seen,
            "fetched": self.fetched,
            "alerts": [a.public() for a in self.alerts],
            "at": self.at,
        }


class ListingFailed(Exception):
    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


def unified_diff(approved: tuple[str, str], now: tuple[str, str]) -> str:
    """Approved → platform, line by line (title first), bounded."""
    before = [approved[0], *approved[1].splitlines()]
    after = [now[0], *now[1].splitlines()]
    lines = difflib.unified_diff(before, after, "approved", "platform", lineterm="")
    diff = "\n".join(lines)
    return diff if len(diff) <= DIFF_MAX_CHARS else diff[:DIFF_MAX_CHARS] + "\n…"


class Reconciler:
    """Bypass detection for every active, listable account (docs/bypass.md)."""

    def __init__(
        self,
        services: Services,
        connectors: Mapping[str, Connector],
        notices: NoticeSink | None = None,
    ) -> None:
        self.svc = services
        self.connectors = connectors
        self.notices = notices
        self.alerts = AlertStore(services.redis, services.keys)
        self.settings = services.settings.watch
        self.owner = f"watch-{secrets.token_hex(6)}"
        self._release = services.redis.register_script(_RELEASE_LUA)
        self._expected: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # how often the loop looks for due accounts (tests shorten the interval itself)
        self.tick_s = min(5.0, max(0.05, self.settings.interval_s / 4))

    # --- the background loop -------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="watch-reconciler")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                log.warning("watch: store unavailable (%s); retrying", type(exc).__name__)
            except Exception:
                log.exception("watch: reconciler loop error")
            await asyncio.sleep(self.tick_s)

    def listable(self, account: Account) -> Lister | None:
        connector = self.connectors.get(account.platform)
        return connector if isinstance(connector, Lister) else None

    async def tick(self, now: float | None = None) -> list[PassReport]:
        """One look at every active listable account: pass over those that are due. An account
        seen for the first time is due one interval later."""
        now = time.time() if now is None else now
        reports = []
        for account in await self.svc.accounts.list_all(state="active"):
            if self._stopping:
                break
            if self.listable(account) is None:
                continue
            key = self.svc.keys.watch_state(account.id)
            due = await self.svc.redis.hget(key, "next_at")
            if due is None:
                first = now + self.settings.interval_for(account.platform)
                await self.svc.redis.hsetnx(key, "next_at", repr(first))
                continue
            if now < float(text(due)):
                continue
            reports.append(await self.run_pass(account, scheduled_at=now))
        return reports

    # --- one pass ----------------------------------------------------------------------------

    async def run_pass(self, account: Account, *, scheduled_at: float | None = None) -> PassReport:
        """Reconcile ``account`` once under its lease; ``result="busy"`` if another process
        holds it (or, for a pass scheduled at ``scheduled_at``, has just done it)."""
        report = PassReport(account.id, account.platform)
        lister = self.listable(account)
        if lister is None:
            report.result, report.reason = "error", f"{account.platform} cannot list items"
            return report
        redis, keys = self.svc.redis, self.svc.keys
        lease = keys.watch_lease(account.id)
        token = f"{self.owner}:{secrets.token_hex(4)}"
        lease_ms = int(self.settings.lease_s * 1000)
        if not await redis.set(lease, token, nx=True, px=lease_ms):
            report.result, report.reason = "busy", "another process is reconciling this account"
            self.svc.metrics.watch_passes.inc(account.platform, "busy")
            return report
        try:
            state_key = keys.watch_state(account.id)
            if scheduled_at is not None:
                due = await redis.hget(state_key, "next_at")
                if due is not None and scheduled_at < float(text(due)):
                    report.result, report.reason = "busy", "another process has just done it"
                    self.svc.metrics.watch_passes.inc(account.platform, "busy")
                    return report
            # The next pass is scheduled first: a pass that fails half-way (the store, a bug)
            # is not repeated before its interval, so it cannot spend the platform's quota.
            interval = self.settings.interval_for(account.platform)
            await redis.hset(state_key, "next_at", repr(time.time() + interval))
            await self._announce_pending(account)
            await self._reconcile(account, lister, report)
            await redis.hset(
                state_key,
                mapping={
                    "last_pass_at": repr(report.at),
                    "last_result": report.result,
                    "last_reason": report.reason,
                    "last_items_seen": report.items_seen,
                    "last_alerts": len(report.alerts),
                },
            )
            if report.result == "ok":
                await redis.hset(state_key, "last_listed_at", repr(report.at))
        finally:
            with contextlib.suppress(RedisError):
                await self._release(keys=[lease], args=[token])
        self.svc.metrics.watch_passes.inc(account.platform, report.result)
        return report

    async def _reconcile(self, account: Account, lister: Lister, report: PassReport) -> None:
        vault = self.svc.vault_
        if vault is None:
            report.result = "unavailable"
            report.reason = f"the credential vault is unavailable: {self.svc.vault_problem}"
            log.warning("watch: %s not listed: %s", account.id, report.reason)
            return
        ref = AccountRef(account.id, account.platform, account.name, account.settings)
        ctx = ListingContext(
            ref, vault, VaultTokenCache(self.svc.redis, self.svc.keys, vault, account.id)
        )
        now = time.time()
        since = now - self.settings.window_s
        view = await self.view(account, lister)
        try:
            async with asyncio.timeout(self.settings.lease_s * 0.8):
                findings = await self._compare(ctx, account, lister, view, since, report)
        except ListingFailed as exc:
            report.result, report.reason = exc.result, exc.reason
            log.warning("watch: %s not listed (%s): %s", account.id, exc.result, exc.reason)
            return
        except TimeoutError:
            report.result, report.reason = "unavailable", "the listing took too long"
            log.warning("watch: %s not listed: %s", account.id, report.reason)
            return
        report.listed = True
        for finding in findings:
            alert = await self._raise(account, finding)
            if alert is not None:
                report.alerts.append(alert)

    async def _call(self, what: str, call: Any) -> Any:
        """A platform call of the pass: any outcome or error ends the pass without alerts."""
        try:
            return await call
        except NeedsReauthorisation as exc:
            raise ListingFailed("needs_reauth", f"{what}: {exc.reason}") from None
        except RetryLater as exc:
            raise ListingFailed("unavailable", f"{what}: {exc.reason}") from None
        except DeliveryOutcome as exc:
            raise ListingFailed("error", f"{what}: {exc.reason}") from None
        except (TimeoutError, OSError) as exc:
            raise ListingFailed("unavailable", f"{what}: {type(exc).__name__}") from None
        except Exception as exc:  # a connector bug must not become a 500 or stop the loop
            log.exception("watch: %s failed", what)
            raise ListingFailed("error", f"{what}: {type(exc).__name__}") from None

    async def _compare(
        self,
        ctx: ListingContext,
        account: Account,
        lister: Lister,
        view: View,
        since: float,
        report: PassReport,
    ) -> list[Finding]:
        limit = self.settings.list_limit
        remote = list(await self._call("listing", lister.recent(ctx, since=since, limit=limit)))
        report.items_seen = len(remote)
        seen_ids = {r.platform_id for r in remote}
        rematched = await self._rematch(remote, view, seen_ids, since, lister)
        known = [e.job for r in remote if (e := view.known(r.platform_id)) is not None]
        approved = await self._approved(known, lister)
        findings: list[Finding] = []
        for item in remote:
            if item.platform_id in rematched:
                continue
            finding = self._judge(item, view, approved)
            if finding is not None:
                findings.append(finding)
        # Gateway items of the window the listing lacks: confirm one by one, newest first.
        floor = since
        if len(remote) >= limit:  # a full listing may have cut older items off
            floor = max(floor, min((r.published_at for r in remote), default=since))
        missing = sorted(
            (
                e
                for e in view.items.values()
                if e.platform_id not in seen_ids
                and not e.gone
                and not e.changing
                and e.published_at >= floor
            ),
            key=lambda e: e.published_at,
            reverse=True,
        )
        for expected in missing:
            if report.fetched >= self.settings.max_fetches_per_pass:
                break
            dedupe = dedupe_key("removed_outside", account.id, expected.platform_id)
            if await self.alerts.seen(dedupe):
                continue  # already reported: no quota spent on it again
            report.fetched += 1
            now = await self._call(
                f"fetch {expected.platform_id}", lister.fetch(ctx, expected.platform_id)
            )
            if now is None:
                findings.append(
                    Finding(
                        "removed_outside",
                        expected.platform_id,
                        title=expected.job.title,
                        url=expected.url,
                        job=expected.job.id,
                    )
                )
            else:
                approved.update(await self._approved([expected.job], lister))
                finding = self._judge(now, view, approved)
                if finding is not None:
                    findings.append(finding)
        return findings

    async def _rematch(
        self,
        remote: Sequence[RemoteItem],
        view: View,
        seen_ids: set[str],
        since: float,
        lister: Lister,
    ) -> set[str]:
        """Unknown platform items that show the approved content of a gateway item of the window
        the listing lacks: the same item under another id than the job records (a job settled
        by hand with the id of the platform's publish job, not of the article). Neither an
        ``unapproved_publish`` nor a ``removed_outside``; their ids are added to ``seen_ids``."""
        unknown = [r for r in remote if view.known(r.platform_id) is None]
        unmatched = [
            e
            for e in view.items.values()
            if e.platform_id not in seen_ids and not e.gone and e.published_at >= since
        ]
        if not unknown or not unmatched:
            return set()
        contents = await self._approved([e.job for e in unmatched], lister)
        by_fingerprint = {
            fingerprint(*contents[e.job.id]): e for e in unmatched if e.job.id in contents
        }
        rematched = set()
        for item in unknown:
            expected = by_fingerprint.pop(item.fingerprint, None)
            if expected is not None:
                log.info(
                    "watch: %s shows the content of job %s, recorded as %s",
                    item.platform_id,
                    expected.job.id,
                    expected.platform_id,
                )
                rematched.add(item.platform_id)
                seen_ids.add(expected.platform_id)
        return rematched

    def _judge(
        self, item: RemoteItem, view: View, approved: Mapping[str, tuple[str, str]]
    ) -> Finding | None:
        """What one platform item means: ``None`` when the gateway accounts for it."""
        fp = item.fingerprint
        expected = view.known(item.platform_id)
        if expected is not None:
            content = approved.get(expected.job.id)
            if content is None:
                return None  # the job's content is unreadable (logged): nothing to compare
            approved_fp = fingerprint(*content)
            if expected.gone or fp == approved_fp or fp in view.maybe_live:
                return None  # untouched, being changed by the gateway, or deleted by it
            return Finding(
                "unapproved_edit",
                item.platform_id,
                dedupe_fingerprint=fp,
                title=item.title,
                url=item.url or expected.url,
                job=expected.job.id,
                diff=unified_diff(content, (item.title, item.text)),
                excerpt=item.text[:EXCERPT_CHARS],
                details={
                    "approved_fingerprint": approved_fp,
                    "platform_fingerprint": fp,
                    "updated_at": item.updated_at,
                },
            )
        if fp in view.maybe_live:
            return None  # a job still settling (in flight, unconfirmed, failed) carries it
        if view.is_repost(item):
            return None  # a repost made through the gateway (delivered or still settling)
        return Finding(
            "unapproved_publish",
            item.platform_id,
            title=item.title,
            url=item.url,
            excerpt=item.text[:EXCERPT_CHARS],
            details={"platform_fingerprint": fp, "published_at": item.published_at},
        )

    # --- the gateway's view ------------------------------------------------------------------

    async def account_jobs(self, account_id: str) -> list[Job]:
        """Every job of the account, through the reconciler's own per-account index of the job
        ids (``keys.watch_jobs``), kept up to date from the job index by creation time."""
        redis, keys = self.svc.redis, self.svc.keys
        await self._index_jobs(account_id)
        members: list[Any] = await redis.zrange(keys.watch_jobs(account_id), 0, -1)
        ids = [text(i) for i in members]
        found: list[Job] = []
        for start in range(0, len(ids), _SCAN_CHUNK):
            chunk = ids[start : start + _SCAN_CHUNK]
            raws = await redis.mget([keys.job(i) for i in chunk])
            found.extend(Job.from_json(raw) for raw in raws if raw)
        return found

    async def _index_jobs(self, account_id: str) -> None:
        """Add the account's jobs created since the last scan (with an overlap, for processes
        whose clocks differ) to its index; every ``_FULL_SCAN_S`` the whole job index is read
        again. Jobs are never removed from the store, so the index only grows."""
        redis, keys = self.svc.redis, self.svc.keys
        state_key = keys.watch_state(account_id)
        raw_to, raw_full = await redis.hmget(state_key, ["jobs_scanned_to", "jobs_full_scan_at"])
        now = time.time()
        scanned_to = float(text(raw_to)) if raw_to is not None else None
        full_at = float(text(raw_full)) if raw_full is not None else 0.0
        full = scanned_to is None or now - full_at > _FULL_SCAN_S
        low = "-inf" if full or scanned_to is None else repr(scanned_to - _SCAN_OVERLAP_S)
        top = scanned_to or 0.0
        needle = f'"account": "{account_id}"'.encode()
        offset = 0
        while True:
            chunk: list[Any] = await redis.zrangebyscore(
                keys.jobs_all(), low, "+inf", start=offset, num=_SCAN_CHUNK, withscores=True
            )
            if not chunk:
                break
            raws = await redis.mget([keys.job(text(member)) for member, _ in chunk])
            mine: dict[str, float] = {}
            for (member, score), raw in zip(chunk, raws, strict=True):
                top = max(top, float(score))
                if raw and needle in raw and Job.from_json(raw).account == account_id:
                    mine[text(member)] = float(score)
            if mine:
                await redis.zadd(keys.watch_jobs(account_id), mine)
            offset += len(chunk)
        await redis.hset(state_key, "jobs_scanned_to", repr(top))
        if full:
            await redis.hset(state_key, "jobs_full_scan_at", repr(now))

    async def _approved(self, jobs: Sequence[Job], lister: Lister) -> dict[str, tuple[str, str]]:
        """``{job id: (title, text)}`` the platform should show for each job's content, read
        from the store once per job and process (content never changes); unreadable ones are
        left out (and logged)."""
        out: dict[str, tuple[str, str]] = {}
        wanted: dict[str, Job] = {}
        for job in jobs:
            cached = self._expected.get(job.id)
            if cached is not None:
                self._expected.move_to_end(job.id)
                out[job.id] = cached
            else:
                wanted[job.id] = job
        ids = list(wanted)
        for start in range(0, len(ids), _SCAN_CHUNK):
            chunk = ids[start : start + _SCAN_CHUNK]
            raws = await self.svc.redis.mget([self.svc.keys.job_post(i) for i in chunk])
            for job_id, raw in zip(chunk, raws, strict=True):
                job = wanted[job_id]
                try:
                    if raw is None:
                        raise NotFound(job_id)
                    post = post_from_stored(json.loads(raw)).outbound(job.content_sha256)
                except (NotFound, ValueError, KeyError, TypeError) as exc:
                    log.warning("watch: content of %s unreadable (%s)", job_id, type(exc).__name__)
                    continue
                out[job_id] = self._expected[job_id] = lister.expected(post)
                if len(self._expected) > _CACHE_SIZE:
                    self._expected.popitem(last=False)
        return out

    async def _reposts(self, jobs: Sequence[Job], since_failed: float, view: View) -> None:
        """Fill ``view.reposts`` / ``view.reposts_settling`` from the account's repost jobs."""
        settling: list[str] = []
        for job in jobs:
            if job.kind != "interaction" or job.details.get("interaction") != "repost":
                continue
            if job.state == "published" and job.platform_id:
                view.reposts.add(job.platform_id)
            elif job.state in MAYBE_LIVE_STATES and (
                job.state != "failed" or job.updated_at >= since_failed
            ):
                settling.append(job.id)
        if not settling:
            return
        raws = await self.svc.redis.mget([self.svc.keys.job_post(i) for i in settling])
        for raw in raws:
            try:
                said = json.loads(raw)["interaction"]["text"] if raw else ""
            except (ValueError, KeyError, TypeError):
                said = ""
            if said:
                view.reposts_settling.append(loose_text(said))

    async def view(self, account: Account, lister: Lister) -> View:
        jobs = await self.account_jobs(account.id)
        since_failed = time.time() - self.settings.window_s
        changes: dict[str, list[Job]] = {}
        view = View()
        for job in jobs:
            if job.kind != "publish" and job.origin:
                changes.setdefault(job.origin, []).append(job)
        await self._reposts(jobs, since_failed, view)
        maybe_live = [
            job
            for job in jobs
            if job.kind in ("publish", "update")
            and (
                (
                    job.state in MAYBE_LIVE_STATES
                    and (job.state != "failed" or job.updated_at >= since_failed)
                )
                # settled as published by Brand-PR without the platform's id (POST .../resolve)
                or (job.state == "published" and not job.platform_id)
            )
        ]
        contents = await self._approved(maybe_live, lister)
        view.maybe_live = {fingerprint(*content) for content in contents.values()}
        for job in jobs:
            if job.kind != "publish" or job.state not in ("published", "deleted"):
                continue
            if not job.platform_id:
                continue
            of_item = changes.get(job.id, [])
            updates = sorted(
                (u for u in of_item if u.kind == "update" and u.state == "published"),
                key=lambda u: u.updated_at,
            )
            gone = job.state == "deleted" or any(
                d.kind == "delete" and d.state == "deleted" for d in of_item
            )
            changing = any(c.state in CHANGING_STATES for c in of_item)
            entries = [
                Expected(
                    origin=job.id,
                    job=version,
                    platform_id=version.platform_id or job.platform_id,
                    published_at=version.updated_at,
                    url=version.url or job.url,
                    gone=gone,
                    changing=changing,
                )
                for version in (job, *updates)
            ]
            live = entries[-1]
            for older in entries[:-1]:
                if older.platform_id != live.platform_id:
                    view.superseded[older.platform_id] = older
            view.items[live.platform_id] = live
        return view

    # --- alerts ------------------------------------------------------------------------------

    async def _raise(self, account: Account, finding: Finding) -> Alert | None:
        alert = Alert(
            id=new_alert_id(),
            kind=finding.kind,
            account=account.id,
            platform=account.platform,
            unit=account.unit,
            platform_id=finding.platform_id,
            detected_at=time.time(),
            title=finding.title,
            url=finding.url,
            job=finding.job,
            diff=finding.diff,
            excerpt=finding.excerpt,
            details=dict(finding.details),
        )
        dedupe = dedupe_key(
            finding.kind, account.id, finding.platform_id, finding.dedupe_fingerprint
        )
        stored = await self.alerts.raise_once(alert, dedupe)
        if stored is None:
            return None
        self.svc.metrics.watch_alerts.inc(account.platform, stored.kind)
        log.warning(
            "watch: %s on %s: %s %s", stored.id, account.id, stored.kind, stored.platform_id
        )
        await self._notify(stored)
        return await self._audit(stored)

    async def _audit(self, alert: Alert) -> Alert:
        """``alert.raised`` (actor SYSTEM), its seq stored on the alert. If the audit log cannot
        be written the alert stays with ``audit_seq`` 0 and the next pass writes it."""
        try:
            record = await self.svc.audit.append(
                actor=SYSTEM,
                action="alert.raised",
                target=alert.id,
                result=alert.kind,
                reasons=[f"{KIND_WORDS[alert.kind]}: {alert.platform} {alert.platform_id}"],
                details={
                    "account": alert.account,
                    "platform": alert.platform,
                    "unit": alert.unit,
                    "kind": alert.kind,
                    "platform_id": alert.platform_id,
                    "job": alert.job,
                    "url": alert.url,
                    "title": alert.title[:200],
                    "detected_at": alert.detected_at,
                    **{k: v for k, v in alert.details.items() if k.endswith("fingerprint")},
                },
            )
        except Exception as exc:
            self.svc.metrics.audit_failures.inc()
            log.error("watch: audit of %s deferred (%s)", alert.id, type(exc).__name__)
            return alert
        return await self.alerts.update(alert.id, audit_seq=int(record["seq"]))

    async def _announce_pending(self, account: Account) -> None:
        """Write the audit records that an earlier pass could not write."""
        for alert in await self.alerts.list(account=account.id, state="open", limit=1000):
            if alert.audit_seq == 0:
                await self._audit(alert)

    async def _notify(self, alert: Alert) -> None:
        """The Art. 8 notice to Brand-PR, queued at once; a notice never fails the pass."""
        if self.notices is None:
            return
        word = KIND_WORDS[alert.kind]
        lines = [
            f"### 绕过告警：{word}",
            f"- 账号：{alert.account}（{alert.platform}）",
            f"- 平台条目：{alert.platform_id}",
        ]
        if alert.title:
            lines.append(f"- 标题：{alert.title}")
        if alert.url:
            lines.append(f"- 链接：{alert.url}")
        if alert.job:
            lines.append(f"- 网关发布任务：{alert.job}")
        notice = Notice(
            event="alert",
            title=f"绕过告警：{word}（{alert.account}）",
            text="\n".join(lines) + "\n",
            recipients=(Recipient(role="brand_pr"),),
            link=f"/console/alerts/{alert.id}",
            data={
                "kind": alert.kind,
                "alert": alert.id,
                "account": alert.account,
                "platform": alert.platform,
                "platform_id": alert.platform_id,
                "url": alert.url,
            },
        )
        try:
            await self.notices.enqueue(notice)
        except Exception:
            log.exception("watch: notice of %s could not be queued", alert.id)
