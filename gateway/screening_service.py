"""Screening inside the gateway: a bounded executor, policy rules, and hot-reloaded lexicons.

The screening pipeline is pure and synchronous; it runs here in a thread pool of
``screening.workers`` threads so the event loop never blocks. Lexicon terms added through the
admin API live in Redis; every gateway process polls a version counter every
``reload_poll_s`` seconds and, on a change, builds a new screener off the event loop and swaps
it in atomically (requests in flight finish on the old one). That swap compiles only the admin
terms (milliseconds), so each view is then scanned by two automaton sets; a background build
then merges file and admin terms into one set and swaps again (compaction, about a second).
Until the first screener is built, or if building fails, screening answers 503 and nothing is
published (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import RedisError

from gateway.errors import PayloadTooLarge, ServiceUnavailable, ValidationFailed
from gateway.keys import Keys, text
from gateway.settings import Settings
from screening.attribution import Company
from screening.decision import CategoryRule
from screening.detectors import DEFAULT_DETECTORS
from screening.lexicon import Lexicon, LexiconError
from screening.persons import RosterEntry
from screening.pipeline import Screener, ScreenResult, TextTooLong

log = logging.getLogger(__name__)

MAX_ADMIN_TERMS = 50_000


def policy_rules(settings: Settings) -> dict[str, CategoryRule]:
    return {
        name: CategoryRule(cat.action, tuple(cat.require))
        for name, cat in settings.policy.categories.items()
    }


def roster(settings: Settings) -> tuple[RosterEntry, ...]:
    return tuple(
        RosterEntry(r.name, r.title or "executive", tuple(r.aliases))
        for r in settings.policy.roster
    )


@dataclass(frozen=True)
class AdminLexicon:
    category: str
    action: str
    severity: str
    terms: tuple[str, ...]
    version: int
    updated_by: str
    updated_at: float

    def public(self, *, with_terms: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "category": self.category,
            "action": self.action,
            "severity": self.severity,
            "version": self.version,
            "terms_count": len(self.terms),
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }
        if with_terms:
            data["terms"] = list(self.terms)
        return data

    def lexicon(self) -> Lexicon:
        return Lexicon.from_terms(
            f"admin:{self.category}",
            self.category,
            self.terms,
            action=self.action,  # type: ignore[arg-type]
            severity=self.severity,  # type: ignore[arg-type]
            source="admin",
            version=str(self.version),
        )


# The automata of the shipped lexicons take seconds to build and never change while the files
# do not: one per process, shared by every app in it (tests start many).
_BASE_CACHE: dict[tuple[Any, ...], Screener] = {}
_BASE_LOCK = threading.Lock()


def _base_key(settings: Settings, classifier: object | None) -> tuple[Any, ...]:
    directory = settings.screening.lexicon_dir
    files = tuple(
        sorted(
            (p.name, p.stat().st_mtime_ns, p.stat().st_size)
            for p in directory.glob("*")
            if p.is_file()
        )
    )
    rules = tuple(sorted((k, v.action, v.require) for k, v in policy_rules(settings).items()))
    detectors = settings.screening.detectors
    return (
        str(directory),
        files,
        rules,
        roster(settings),
        settings.policy.company,
        id(classifier),
        detectors,
    )


def base_screener(settings: Settings, classifier: object | None = None) -> Screener:
    """The screener of the shipped lexicons, policy rules and roster (built once per process)."""
    key = _base_key(settings, classifier)
    with _BASE_LOCK:
        cached = _BASE_CACHE.get(key)
        if cached is not None:
            return cached
        started = time.perf_counter()
        screener = Screener.from_directory(
            settings.screening.lexicon_dir,
            rules=policy_rules(settings),
            roster=roster(settings),
            classifier=classifier,
            company=Company(**dataclasses.asdict(settings.policy.company)),
            detectors=settings.screening.detectors or DEFAULT_DETECTORS,
        )
        _BASE_CACHE.clear()
        _BASE_CACHE[key] = screener
    log.info(
        "screening ready: %d patterns in %.1f s",
        screener.term_count,
        time.perf_counter() - started,
    )
    return screener


#: Seconds between an applied lexicon change and the start of its compaction.
COMPACT_AFTER_S = 2.0


class ScreeningService:
    def __init__(
        self,
        settings: Settings,
        redis: aredis.Redis,
        keys: Keys,
        classifier: object | None = None,
        *,
        prebuilt: object | None = None,
    ) -> None:
        self._settings = settings
        self._redis = redis
        self._keys = keys
        self._classifier = classifier
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, settings.screening.workers), thread_name_prefix="screening"
        )
        self._screener: Screener | None = None
        self._prebuilt = prebuilt if isinstance(prebuilt, Screener) else None
        self._applied_version = -1
        self._problem = "screening is starting"
        self._task: asyncio.Task[None] | None = None
        self._compaction: asyncio.Task[None] | None = None
        # compaction gets its own thread so screening requests never queue behind it
        self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lexicon-build")
        self._reload_lock = asyncio.Lock()
        self._closing = False

    # lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._screener = self._prebuilt or await loop.run_in_executor(
                self._executor, self._build_base
            )
            self._problem = ""
        except (LexiconError, OSError) as exc:
            self._problem = f"lexicons could not be loaded: {exc}"
            log.error("SCREENING UNAVAILABLE: %s", self._problem)
            return
        with contextlib.suppress(RedisError):
            await self.reload()
        self._task = asyncio.create_task(self._poll(), name="lexicon-reload")

    def _build_base(self) -> Screener:
        return base_screener(self._settings, self._classifier)

    async def close(self) -> None:
        # A cancellation landing inside a Redis call may surface as a connection error the loop
        # tolerates; the flag ends the loop regardless.
        self._closing = True
        for task in (self._task, self._compaction):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._builder.shutdown(wait=False, cancel_futures=True)

    @property
    def ready(self) -> bool:
        return self._screener is not None

    @property
    def applied_version(self) -> int:
        return self._applied_version

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "ok": self.ready,
            "lexicon_version": self._applied_version,
            "compacted": self.compacted,
        }
        if self._screener is not None:
            info["patterns"] = self._screener.term_count
        if self._problem:
            info["error"] = self._problem
        return info

    def file_lexicons(self) -> list[dict[str, Any]]:
        """Provenance of the lexicons shipped in ``config/lexicons`` (never their terms)."""
        screener = self._screener
        if screener is None:
            return []
        return [
            {
                "name": lex.name,
                "category": lex.category,
                "action": lex.action,
                "severity": lex.severity,
                "source": lex.source,
                "version": lex.version,
                "terms_count": len(lex.terms),
            }
            for lex in screener.lexicons
            if not lex.name.startswith("admin:")
        ]

    # screening -----------------------------------------------------------------------------
    async def screen(self, fields: Mapping[str, str]) -> ScreenResult:
        screener = self._screener
        if screener is None:
            raise ServiceUnavailable(
                f"screening is unavailable: {self._problem}", reason="screening_unavailable"
            )
        loop = asyncio.get_running_loop()
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for wraps the future in one more task
            async with asyncio.timeout(self._settings.screening.screen_timeout_s):
                return await loop.run_in_executor(self._executor, screener.screen, dict(fields))
        except TextTooLong as exc:
            raise PayloadTooLarge(
                str(exc),
                errors=[{"field": f"post.{exc.field}", "message": "too long"}],
                limit_chars=exc.limit,
            ) from None
        except TimeoutError:
            raise ServiceUnavailable(
                "screening took too long; nothing was published", reason="screening_timeout"
            ) from None
        except Exception:
            # A fault in the pipeline must not let content through: fail closed.
            log.exception("screening failed")
            raise ServiceUnavailable(
                "screening failed on this post; nothing was published", reason="screening_failed"
            ) from None

    # hot reload ----------------------------------------------------------------------------
    async def _poll(self) -> None:
        interval_s = self._settings.screening.reload_poll_s
        while not self._closing:
            await asyncio.sleep(interval_s)
            try:
                await self.reload()
            except RedisError as exc:
                log.warning("lexicon poll failed: %s", type(exc).__name__)
            except Exception:
                log.exception("lexicon reload failed; keeping the previous lexicons")

    async def reload(self, *, force: bool = False) -> bool:
        """Apply the admin lexicons if their version changed; True if a new screener is live."""
        async with self._reload_lock:
            raw = await self._redis.get(self._keys.lexicon_version())
            version = int(raw) if raw else 0
            if (version == self._applied_version and not force) or self._screener is None:
                return False
            lexicons = [a.lexicon() for a in await self.admin_lexicons()]
            base = self._screener
            loop = asyncio.get_running_loop()
            new = await loop.run_in_executor(self._executor, base.with_lexicons, lexicons)
            self._screener = new  # atomic swap: in-flight requests keep the old one
            self._applied_version = version
            log.info("lexicons version %d applied (%d admin lists)", version, len(lexicons))
            if self._compaction:
                self._compaction.cancel()  # its result would be stale
                self._compaction = None
            if not new.compact:
                self._compaction = asyncio.create_task(
                    self._compact(new), name="lexicon-compaction"
                )
            return True

    async def _compact(self, screener: Screener) -> None:
        """Replace ``screener`` by its compacted form, unless something newer was applied.

        Starts :data:`COMPACT_AFTER_S` after the change: admin edits come in bursts (each
        cancels the pending compaction), and the build holds the GIL for most of a second,
        which would slow this process's requests and its next hot reload meanwhile."""
        await asyncio.sleep(COMPACT_AFTER_S)
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            merged = await loop.run_in_executor(self._builder, screener.compacted)
        except Exception:
            log.exception("lexicon compaction failed; screening goes on with two automaton sets")
            return
        if self._screener is screener:
            self._screener = merged  # same terms, one automaton set: an atomic swap as above
            log.info("lexicons compacted in %.2f s", time.perf_counter() - started)

    @property
    def compacted(self) -> bool:
        """Whether the live screener scans each view once (tests and health)."""
        return self._screener is not None and self._screener.compact

    async def admin_lexicons(self) -> list[AdminLexicon]:
        raw = await self._redis.hgetall(self._keys.lexicons())
        result = []
        for _, value in sorted(raw.items(), key=lambda kv: text(kv[0])):
            data = json.loads(value)
            result.append(AdminLexicon(**{**data, "terms": tuple(data["terms"])}))
        return result

    async def change_terms(
        self,
        category: str,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        action: str | None = None,
        severity: str | None = None,
        by: str,
    ) -> AdminLexicon:
        """Add or remove terms of one category; bump the global version (all instances reload)."""
        key = self._keys.lexicons()
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key, self._keys.lexicon_version())
                    raw = await pipe.hget(key, category)
                    old = json.loads(raw) if raw else None
                    rule = self._settings.policy.categories.get(category)
                    terms = list(old["terms"]) if old else []
                    terms += [t for t in add if t not in terms]
                    terms = [t for t in terms if t not in set(remove)]
                    if len(terms) > MAX_ADMIN_TERMS:
                        raise ValidationFailed(
                            [{"field": "terms", "message": f"more than {MAX_ADMIN_TERMS} terms"}]
                        )
                    version_raw = await pipe.get(self._keys.lexicon_version())
                    version = (int(version_raw) if version_raw else 0) + 1
                    entry = AdminLexicon(
                        category=category,
                        action=action
                        or (old["action"] if old else rule.action if rule else "review"),
                        severity=severity
                        or (old["severity"] if old else rule.severity if rule else "medium"),
                        terms=tuple(terms),
                        version=version,
                        updated_by=by,
                        updated_at=time.time(),
                    )
                    try:
                        entry.lexicon()  # validate every term and the header before storing
                    except LexiconError as exc:
                        raise ValidationFailed([{"field": "terms", "message": str(exc)}]) from None
                    pipe.multi()
                    pipe.hset(
                        key,
                        category,
                        json.dumps(
                            {**asdict(entry), "terms": list(entry.terms)}, ensure_ascii=False
                        ),
                    )
                    pipe.set(self._keys.lexicon_version(), version)
                    await pipe.execute()
                    return entry
                except aredis.WatchError:
                    continue
