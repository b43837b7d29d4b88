"""``create_app``: assembles the gateway from settings and resolved secrets. No I/O here.

Resources (the Redis pool and the services built on it, later the screening executor, the
outbound HTTP session, connectors and the delivery worker) each live in one ``cleanup_ctx``
generator, opened in order when the app starts and closed in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
import redis.asyncio as aredis
from aiohttp import web

from connectors.registry import load_connectors
from gateway.accounts import AccountRegistry
from gateway.appkeys import GATE, HTTP, NOTIFY, SERVICES, SETTINGS, WATCH, WORKER
from gateway.approvals import ApprovalService, build_key_ring
from gateway.audit import AuditLog, anchor_loop
from gateway.delivery import DeliveryWorker
from gateway.desk.context import desk_ctx
from gateway.freeze import FreezeSwitch
from gateway.gate import PublishGate
from gateway.jobs import JobStore
from gateway.keys import Keys
from gateway.metrics import Metrics
from gateway.middleware import (
    ROUTE_ROLES,
    auth,
    metrics,
    problems,
    request_id,
    text_guard,
    throttle,
)
from gateway.principals import PrincipalStore
from gateway.routes import ROUTES, add_routes
from gateway.screening_service import ScreeningService, base_screener
from gateway.services import Services
from gateway.settings import Settings, anchor_path
from gateway.vault import MasterKey, Vault
from gateway.watch.reconciler import Reconciler
from screening.lexicon import LexiconError

log = logging.getLogger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]
#: The classifier stage (None: off) and its health entry.
Classifier = tuple[object | None, dict[str, object]]


@dataclass(frozen=True)
class Runtime:
    """What the edge (``run.py``) resolved: where Redis is, and the secrets from env/files."""

    redis_url: str
    master_key: MasterKey | None = None
    old_master_keys: Sequence[MasterKey] = ()
    vault_problem: str = "no master key configured (MEDIAGATE_MASTER_KEY)"
    signing_key_pem: bytes = field(default=b"", repr=False)
    # A screener built elsewhere (tests share one per session; the parent of several
    # processes builds it before forking: preload); None: built at start-up.
    screener: object | None = None
    # The classifier and its health entry, loaded elsewhere (preload); None: at start-up.
    classifier: Classifier | None = None
    # Resolves notification channels' secret references (None: the process environment).
    environ: Mapping[str, str] | None = None
    extra_contexts: Sequence[CleanupCtx] = ()
    # Which of the gateway's processes this is (server.processes); the audit anchors are
    # written by worker 0 only.
    worker: int = 0


def _store_ctx(runtime: Runtime) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        client = aredis.Redis.from_url(
            runtime.redis_url,
            max_connections=settings.store.max_connections,
            socket_timeout=settings.store.socket_timeout_s,
            socket_connect_timeout=settings.store.socket_timeout_s,
            health_check_interval=30,
        )
        keys = Keys(settings.store.key_prefix)
        vault = (
            Vault(client, keys, runtime.master_key, runtime.old_master_keys)
            if runtime.master_key
            else None
        )
        app[SERVICES] = Services(
            settings=settings,
            redis=client,
            keys=keys,
            principals=PrincipalStore(client, keys),
            accounts=AccountRegistry(client, keys),
            freeze=FreezeSwitch(client, keys),
            audit=AuditLog(client, keys),
            metrics=Metrics(),
            vault_=vault,
            vault_problem="" if vault else runtime.vault_problem,
        )
        # which of the gateway's processes answered (server.processes > 1 shares the port)
        app[SERVICES].health.info["process"] = lambda: {
            "ok": True,
            "pid": os.getpid(),
            "worker": runtime.worker,
        }
        try:
            yield
        finally:
            await client.aclose()

    return ctx


def _anchor_ctx(runtime: Runtime) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        """Writes audit anchors (:func:`gateway.audit.anchor_loop`) while the app runs, in
        one process of the gateway."""
        settings = app[SETTINGS]
        interval = settings.audit.anchor_interval_s
        task = None
        if interval > 0 and runtime.worker == 0:
            loop = anchor_loop(app[SERVICES].audit, anchor_path(settings), interval)
            task = asyncio.create_task(loop, name="audit-anchors")
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return ctx


async def _http_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    timeout = aiohttp.ClientTimeout(total=settings.limits.request_timeout_s)
    session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False)
    app[HTTP] = session
    try:
        yield
    finally:
        await session.close()


def _publish_ctx(runtime: Runtime) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        svc = app[SERVICES]
        settings = svc.settings
        connectors = load_connectors(
            settings.connectors.allow, settings.connectors.sections, app[HTTP]
        )
        loaded = runtime.classifier
        if loaded is None:
            loaded = await asyncio.to_thread(load_classifier, settings)
        classifier, classifier_info = loaded
        screening = ScreeningService(
            settings, svc.redis, svc.keys, classifier, prebuilt=runtime.screener
        )
        await screening.start()
        if not screening.ready:
            await screening.close()
            lexicons = settings.screening.lexicon_dir
            raise StartupError(
                f"screening.lexicon_dir = {str(lexicons)!r}: {screening.health().get('error')}"
            )
        ring, can_issue = build_key_ring(settings, runtime.signing_key_pem)
        approvals = ApprovalService(settings, svc.redis, svc.keys, svc.principals, ring, can_issue)
        jobs = JobStore(svc.redis, svc.keys)
        app[GATE] = PublishGate(svc, screening, approvals, jobs, connectors)
        probes = svc.health.probes
        for name, connector in connectors.items():
            probes[f"connector:{name}"] = connector.ping
        info = svc.health.info
        info["screening"] = screening.health
        info["classifier"] = lambda: classifier_info
        info["approvals"] = lambda: {
            "ok": True,
            "can_issue": can_issue,
            "kid": ring.signing.kid if can_issue else None,
        }
        worker: DeliveryWorker | None = None
        if settings.delivery.workers > 0:
            worker = DeliveryWorker(svc, jobs, connectors)
            app[WORKER] = worker
            await worker.start()
            info["delivery"] = lambda: {"ok": True, "worker": worker.owner if worker else None}
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await screening.close()

    return ctx


async def _watch_ctx(app: web.Application) -> AsyncIterator[None]:
    """The bypass reconciler (docs/bypass.md): always available to the reconcile route; its
    background passes run where delivery workers run, unless ``watch.enabled`` is false."""
    svc = app[SERVICES]
    reconciler = Reconciler(svc, app[GATE].connectors, app.get(NOTIFY))
    app[WATCH] = reconciler
    background = svc.settings.watch.enabled and svc.settings.delivery.workers > 0
    if background:
        await reconciler.start()
    svc.health.info["watch"] = lambda: {
        "ok": True,
        "background": background,
        "interval_s": svc.settings.watch.interval_s,
    }
    try:
        yield
    finally:
        await reconciler.stop()


class StartupError(RuntimeError):
    """A part could not load; the gateway does not start (the message names the key and path)."""


def load_classifier(settings: Settings) -> Classifier:
    """The classifier stage and its health entry: off when ``classifier_model_dir`` is unset; by
    default the shipped model, on numpy; any failure to load a configured model (another
    checkpoint without the ``[classifier]`` extra included) stops start-up
    (:class:`StartupError`). Blocks for a second or two."""
    model_dir = settings.screening.classifier_model_dir
    if model_dir is None:
        return None, {"ok": True, "enabled": False, "note": "classifier_model_dir is off"}
    from screening.classifier import ClassifierUnavailable, TextClassifier

    started = time.perf_counter()
    try:
        classifier = TextClassifier.load(
            model_dir, threshold=settings.screening.classifier_threshold
        )
    except ClassifierUnavailable as exc:
        raise StartupError(
            f"screening.classifier_model_dir = {str(model_dir)!r}: {exc} "
            '(classifier_model_dir = "" switches the stage off)'
        ) from None
    log.info("classifier ready in %.1f s (%s)", time.perf_counter() - started, model_dir)
    return classifier, {
        "ok": True,
        "enabled": True,
        "model": str(model_dir),
        "backend": classifier.backend,  # "numpy" (shipped model) or "transformers" (configured)
        "precision": classifier.precision,
        "parts": list(classifier.parts),
    }


def preload(settings: Settings, runtime: Runtime) -> Runtime:
    """``runtime`` with the classifier and the shipped lexicons' screener built now, in this
    process: the parent of ``server.processes`` workers does this before forking, so that the
    workers share those few hundred megabytes (copy-on-write; the heap is frozen for the
    collector so that it does not touch them) and none of them builds its own."""
    classifier = load_classifier(settings)
    try:
        screener = base_screener(settings, classifier[0])
    except (LexiconError, OSError) as exc:
        raise StartupError(
            f"screening.lexicon_dir = {str(settings.screening.lexicon_dir)!r}: "
            f"lexicons could not be loaded: {exc}"
        ) from None
    gc.collect()
    gc.freeze()
    return dataclasses.replace(runtime, screener=screener, classifier=classifier)


def create_app(settings: Settings, runtime: Runtime) -> web.Application:
    app = web.Application(
        middlewares=[request_id, problems, metrics, text_guard, throttle, auth],
        client_max_size=settings.limits.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[ROUTE_ROLES] = add_routes(app, ROUTES)
    # the web console for people (gateway/console/): a sub-application at /console/
    from gateway.console import add_console

    add_console(app, settings)
    app.cleanup_ctx.append(_store_ctx(runtime))
    app.cleanup_ctx.append(_anchor_ctx(runtime))
    app.cleanup_ctx.append(_http_ctx)
    app.cleanup_ctx.append(_publish_ctx(runtime))
    app.cleanup_ctx.append(desk_ctx(runtime.environ))
    app.cleanup_ctx.append(_watch_ctx)
    for extra in runtime.extra_contexts:
        app.cleanup_ctx.append(extra)
    return app
