"""Typed application state keys; the only names under which the app stores anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import ClientSession, web

if TYPE_CHECKING:
    from gateway.services import Services
    from gateway.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
SERVICES: web.AppKey[Services] = web.AppKey("services")

if TYPE_CHECKING:
    from gateway.delivery import DeliveryWorker
    from gateway.gate import PublishGate

GATE: web.AppKey[PublishGate] = web.AppKey("gate")
HTTP: web.AppKey[ClientSession] = web.AppKey("http")
WORKER: web.AppKey[DeliveryWorker] = web.AppKey("worker")

if TYPE_CHECKING:
    from gateway.desk.service import DeskService
    from gateway.notify.outbox import Outbox

DESK: web.AppKey[DeskService] = web.AppKey("desk")
NOTIFY: web.AppKey[Outbox] = web.AppKey("notify")

if TYPE_CHECKING:
    from gateway.hub.reminders import WeeklyReminder

HUB_REMINDER: web.AppKey[WeeklyReminder] = web.AppKey("hub_reminder")

if TYPE_CHECKING:
    from gateway.watch.reconciler import Reconciler

WATCH: web.AppKey[Reconciler] = web.AppKey("watch")
