"""The notification outbox: notices become messages in the store, delivered with retries.

:meth:`Outbox.enqueue` routes a notice to the channels whose subscriptions match its event and
recipients and writes one message per channel in one transaction: that is all a publish, a
decision or a submission ever waits for. :class:`OutboxWorker` (one per process) takes due
messages under a lease, sends each with the channel's own timeout, all of a batch concurrently
so one unreachable channel delays no other, and reschedules a failure with exponential backoff
until ``notify.max_attempts``, after which the message is kept in a dead-letter set with its
last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

from gateway.keys import Keys, text
from gateway.notify.base import Notifier, NotifyError
from gateway.notify.notice import Notice, Recipient
from gateway.settings import NotifySettings, NotifySubscription

log = logging.getLogger(__name__)

#: The implicit channel of policy.toml's ``alert_webhook`` (Art. 8): every alert goes there.
ALERT_CHANNEL = "policy.alert_webhook"
BATCH = 32


def subscription_matches(sub: NotifySubscription, notice: Notice) -> bool:
    if sub.events and notice.event not in sub.events:
        return False
    return any(_recipient_matches(sub, r) for r in notice.recipients)


def _recipient_matches(sub: NotifySubscription, r: Recipient) -> bool:
    if sub.people:
        return bool(r.person) and r.person in sub.people
    if sub.roles and r.role not in sub.roles:
        return False
    return not (sub.units and r.unit and r.unit not in sub.units)


@dataclass(frozen=True)
class Message:
    id: str
    channel: str
    notice: Notice
    created_at: float
    attempts: int = 0
    last_error: str = ""

    def dump(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "channel": self.channel,
                "notice": self.notice.to_json(),
                "created_at": self.created_at,
                "attempts": self.attempts,
                "last_error": self.last_error,
            },
            ensure_ascii=False,
        )

    @classmethod
    def load(cls, raw: bytes | str) -> Message:
        data = json.loads(raw)
        return cls(
            data["id"],
            data["channel"],
            Notice.from_json(data["notice"]),
            data["created_at"],
            data["attempts"],
            data["last_error"],
        )


class Outbox:
    def __init__(
        self,
        redis: aredis.Redis,
        keys: Keys,
        settings: NotifySettings,
        notifiers: Mapping[str, Notifier],
        public_url: str = "",
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self.notifiers = dict(notifiers)
        self._public_url = public_url.rstrip("/")
        self.on_enqueue: Callable[[], None] | None = None  # the worker's wake-up

    def route(self, notice: Notice) -> list[str]:
        """The channels a notice goes to (configured ones that are up, plus the alert hook)."""
        names = [s.channel for s in self._settings.subscriptions if subscription_matches(s, notice)]
        if notice.event == "alert" and ALERT_CHANNEL in self.notifiers:
            names.append(ALERT_CHANNEL)
        return [n for n in dict.fromkeys(names) if n in self.notifiers]

    async def enqueue(self, notice: Notice) -> None:
        channels = self.route(notice)
        if not channels:
            log.debug("notice %s: no channel subscribed", notice.event)
            return
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            for channel in channels:
                msg = Message("ntf_" + secrets.token_hex(8), channel, notice, now)
                pipe.set(self._keys.notify_message(msg.id), msg.dump())
                pipe.zadd(self._keys.notify_outbox(), {msg.id: now})
            await pipe.execute()
        if self.on_enqueue is not None:
            self.on_enqueue()

    async def pending(self) -> list[Message]:
        ids: list[Any] = await self._redis.zrange(self._keys.notify_outbox(), 0, -1)
        return await self._load([text(i) for i in ids])

    async def dead(self) -> list[Message]:
        ids: list[Any] = await self._redis.zrange(self._keys.notify_dead(), 0, -1)
        return await self._load([text(i) for i in ids])

    async def _load(self, ids: Sequence[str]) -> list[Message]:
        if not ids:
            return []
        raws = await self._redis.mget([self._keys.notify_message(i) for i in ids])
        return [Message.load(r) for r in raws if r]

    async def due_ids(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        ids: list[Any] = await self._redis.zrangebyscore(
            self._keys.notify_outbox(), "-inf", now, start=0, num=BATCH
        )
        return [text(i) for i in ids]

    async def deliver_due(self, now: float | None = None) -> int:
        """Send every due message once (concurrently); returns how many were delivered."""
        results = await asyncio.gather(*(self.deliver(i) for i in await self.due_ids(now)))
        return sum(results)

    async def deliver(self, message_id: str) -> bool:
        """Send one message under its lease; True if it was delivered now."""
        return await self._deliver(message_id)

    async def _deliver(self, message_id: str) -> bool:
        lease = self._keys.notify_lease(message_id)
        timeout_s = max(
            (getattr(c, "timeout_s", 5.0) for c in self._settings.channels.values()), default=5.0
        )
        if not await self._redis.set(lease, "1", nx=True, px=int((timeout_s + 30) * 1000)):
            return False
        try:
            raw = await self._redis.get(self._keys.notify_message(message_id))
            if raw is None:
                await self._redis.zrem(self._keys.notify_outbox(), message_id)
                return False
            msg = Message.load(raw)
            notifier = self.notifiers.get(msg.channel)
            error: NotifyError | None = None
            if notifier is None:
                error = NotifyError(f"channel {msg.channel!r} is not configured", retry=False)
            else:
                link = self._link(msg.notice.link)
                try:
                    await asyncio.wait_for(notifier.send(msg.notice, link), timeout_s + 1)
                except NotifyError as exc:
                    error = exc
                except TimeoutError:
                    error = NotifyError("timed out")
                except Exception as exc:  # a channel bug must not stop the others
                    log.exception("channel %s failed unexpectedly", msg.channel)
                    error = NotifyError(f"unexpected {type(exc).__name__}")
            if error is None:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.zrem(self._keys.notify_outbox(), msg.id)
                    pipe.delete(self._keys.notify_message(msg.id))
                    await pipe.execute()
                return True
            await self._failed(msg, error)
            return False
        finally:
            await self._redis.delete(lease)

    async def _failed(self, msg: Message, error: NotifyError) -> None:
        attempts = msg.attempts + 1
        failed = Message(msg.id, msg.channel, msg.notice, msg.created_at, attempts, str(error))
        s = self._settings
        give_up = not error.retry or attempts >= s.max_attempts
        log.warning(
            "notice %s to %s failed (attempt %d%s): %s",
            msg.notice.event,
            msg.channel,
            attempts,
            ", giving up" if give_up else "",
            error,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.notify_message(msg.id), failed.dump())
            if give_up:
                pipe.zrem(self._keys.notify_outbox(), msg.id)
                pipe.zadd(self._keys.notify_dead(), {msg.id: time.time()})
            else:
                delay_s = min(s.retry_max_s, s.retry_base_s * 2 ** (attempts - 1))
                pipe.zadd(self._keys.notify_outbox(), {msg.id: time.time() + delay_s})
            await pipe.execute()

    def _link(self, link: str) -> str:
        if not link or link.startswith(("http://", "https://")):
            return link
        return f"{self._public_url}{link}" if self._public_url else ""


class OutboxWorker:
    """One background task per process that sends due messages every ``poll_interval_s``.

    Each message is sent by a task of its own, so a channel that hangs until its timeout holds
    up only its own messages: the loop keeps taking newly due messages meanwhile.
    """

    def __init__(self, outbox: Outbox, poll_interval_s: float) -> None:
        self.outbox = outbox
        self._poll_s = poll_interval_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._sending: dict[str, asyncio.Task[bool]] = {}
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self.outbox.on_enqueue = self.wake
        self._task = asyncio.create_task(self._run(), name="notify-outbox")

    async def stop(self) -> None:
        # The Redis client may turn a cancellation that lands inside a call into a connection
        # error (an Exception the loop survives); the flag makes the loop stop anyway.
        self._stopping = True
        self._wake.set()
        tasks = [t for t in (self._task, *self._sending.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                for message_id in await self.outbox.due_ids():
                    if message_id not in self._sending:
                        task = asyncio.create_task(self._send(message_id))
                        self._sending[message_id] = task
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("notification outbox tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def _send(self, message_id: str) -> bool:
        try:
            return await self.outbox.deliver(message_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notification %s: delivery failed unexpectedly", message_id)
            return False
        finally:
            self._sending.pop(message_id, None)
