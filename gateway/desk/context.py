"""The desk's resources for the app: the notice outbox and its worker, the desk service, and
the scheduler, opened after the publish gate and closed before it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web

from gateway.appkeys import DESK, GATE, HTTP, HUB_REMINDER, NOTIFY, SERVICES, WORKER
from gateway.desk.schedule import DeskScheduler
from gateway.desk.service import DeskService
from gateway.desk.store import SubmissionStore
from gateway.hub.reminders import WeeklyReminder
from gateway.notify.channels import build_notifiers
from gateway.notify.outbox import Outbox, OutboxWorker


def desk_ctx(
    environ: Mapping[str, str] | None = None, *, background: bool = True
) -> Callable[[web.Application], AsyncIterator[None]]:
    """``environ`` resolves the notifiers' secret references (None: the process environment).
    ``background`` False leaves the scheduler and outbox worker off (tests drive ticks)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        svc, gate = app[SERVICES], app[GATE]
        settings = svc.settings
        notifiers, problems = build_notifiers(settings, app[HTTP], environ)
        outbox = Outbox(svc.redis, svc.keys, settings.notify, notifiers, settings.server.public_url)
        app[NOTIFY] = outbox
        worker = app.get(WORKER)
        desk = DeskService(
            gate,
            SubmissionStore(svc.redis, svc.keys),
            outbox,
            wake=worker.wake if worker is not None else None,
        )
        app[DESK] = desk
        gate.on_blocked = desk.alert_blocked  # Art. 8 alerts for blocked POST /v1/posts too
        svc.health.info["notify"] = lambda: {
            "ok": not problems,
            "channels": sorted(notifiers),
            "off": dict(problems),
        }
        scheduler = DeskScheduler(desk, settings.desk.schedule_poll_s)
        sender = OutboxWorker(outbox, settings.notify.poll_interval_s)
        reminder = WeeklyReminder(svc, gate.jobs, outbox)  # the hub's Art. 23 reminder
        app[HUB_REMINDER] = reminder
        if background:
            await scheduler.start()
            await sender.start()
            await reminder.start()
        try:
            yield
        finally:
            await reminder.stop()
            await sender.stop()
            await scheduler.stop()

    return ctx
