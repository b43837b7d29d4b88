"""The hub's reminders: weekly (Art. 23), at the configured day and time (China Standard Time)
units that have sent Brand-PR nothing this week are reminded through the notifiers; and for
campaigns (Art. 13), a day before the due time, units that have not started.

One background task per process; a key per ISO week set with ``NX`` lets exactly one process send
the week's reminders, and a process that starts after the time still sends them that week.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from datetime import datetime, timedelta

from gateway.api.reports import CST, weekly_rows
from gateway.hub.campaigns import REMIND_BEFORE_S, CampaignService
from gateway.jobs import JobStore
from gateway.notify.notice import Notice, NoticeSink, Recipient
from gateway.services import Services
from gateway.settings import HubSettings, SettingsError

log = logging.getLogger(__name__)

TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
REMINDED_TTL_S = 9 * 24 * 3600


def remind_moment(settings: HubSettings) -> tuple[int, int, int]:
    """(ISO weekday, hour, minute) of ``hub.remind_*``; :class:`SettingsError` naming the key."""
    if not 1 <= settings.remind_weekday <= 7:
        raise SettingsError("hub.remind_weekday: 1 (Monday) to 7 (Sunday)")
    match = TIME_RE.match(settings.remind_at)
    if not match:
        raise SettingsError("hub.remind_at: a time HH:MM (China Standard Time), e.g. 15:00")
    return settings.remind_weekday, int(match[1]), int(match[2])


class WeeklyReminder:
    def __init__(self, svc: Services, jobs: JobStore, sink: NoticeSink) -> None:
        self.svc = svc
        self.jobs = jobs
        self.sink = sink
        self.weekday, self.hour, self.minute = remind_moment(svc.settings.hub)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop = asyncio.Event()

    def due_at(self, now: datetime) -> datetime:
        """This ISO week's reminder moment (CST) for ``now``."""
        local = now.astimezone(CST)
        monday = (local - timedelta(days=local.isoweekday() - 1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return monday + timedelta(days=self.weekday - 1, hours=self.hour, minutes=self.minute)

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Send this week's reminders if their moment has come and no process sent them yet;
        returns the units reminded."""
        now = now or datetime.now(CST)
        due = self.due_at(now)
        if now < due:
            return []
        year, week, _ = due.isocalendar()
        label = f"{year}-W{week:02d}"
        first = await self.svc.redis.set(
            self.svc.keys.hub_reminded(label), "1", nx=True, ex=REMINDED_TTL_S
        )
        if not first:
            return []
        monday = due - timedelta(days=self.weekday - 1, hours=self.hour, minutes=self.minute)
        rows = await weekly_rows(self.svc, self.jobs, monday, now)
        silent = [r for r in rows if "silent" in r["flags"].split(";")]
        for row in silent:
            await self.sink.enqueue(
                Notice(
                    event="reminder",
                    title=f"{row['name']}：本周尚未向品牌公关部报送素材",
                    text=(
                        f"**{row['name']}** 本周（{label}）还没有向品牌公关部报送新闻素材，"
                        "也没有发布稿件（《管理办法》第二十三条）。请在控制台“素材”页报送。"
                    ),
                    recipients=(
                        Recipient(role="editor", unit=row["unit"]),
                        Recipient(role="unit_head", unit=row["unit"]),
                    ),
                    link="/console/materials",
                    data={"week": label, "unit": row["unit"]},
                )
            )
        if silent:
            names = "、".join(r["name"] for r in silent)
            await self.sink.enqueue(
                Notice(
                    event="reminder",
                    title=f"本周尚未报送素材的单位：{names}",
                    text=f"截至 {now:%m-%d %H:%M}，{names} 本周没有报送素材或发布稿件；已提醒。",
                    recipients=(Recipient(role="brand_pr"),),
                    link="/console/materials",
                    data={"week": label, "units": [r["unit"] for r in silent]},
                )
            )
        log.info("weekly reminder %s: %d silent unit(s)", label, len(silent))
        return [r["unit"] for r in silent]

    async def campaigns(self, now: float | None = None) -> list[tuple[str, str]]:
        """Remind the units of campaigns due within :data:`REMIND_BEFORE_S` that have not
        started, once per campaign; returns ``(campaign, unit)`` pairs reminded."""
        now = time.time() if now is None else now
        service = CampaignService(self.svc)
        told: list[tuple[str, str]] = []
        for campaign in await service.all():
            if not campaign.due_at - REMIND_BEFORE_S <= now < campaign.due_at:
                continue
            key = self.svc.keys.hub_reminded(f"campaign:{campaign.id}")
            if not await self.svc.redis.set(key, "1", nx=True, ex=REMINDED_TTL_S):
                continue
            board = await service.board(campaign, now)
            units = sorted({r["unit"] for r in board if r["state"] == "not_started"})
            due = datetime.fromtimestamp(campaign.due_at, CST)
            for unit in units:
                name = self.svc.settings.policy.units[unit].name
                await self.sink.enqueue(
                    Notice(
                        event="reminder",
                        title=f"联动宣传「{campaign.title}」即将到期",
                        text=(
                            f"**{name}** 尚未提交联动宣传「{campaign.title}」的稿件，"
                            f"截止时间 {due:%m-%d %H:%M}（《管理办法》第十三条）。"
                        ),
                        recipients=(
                            Recipient(role="editor", unit=unit),
                            Recipient(role="unit_head", unit=unit),
                        ),
                        link=f"/console/campaigns/{campaign.id}",
                        data={"campaign": campaign.id, "unit": unit},
                    )
                )
                told.append((campaign.id, unit))
        return told

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub-reminder")

    async def stop(self) -> None:
        # as the desk's scheduler: the Redis client may turn a cancellation inside a call into
        # a connection error the loop would survive; the flag stops it anyway
        self._stopping = True
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            # the first look comes one poll after start: a process that starts after the moment
            # still sends the week's reminders, a poll later
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.svc.settings.hub.remind_poll_s):
                    await self._stop.wait()
            if self._stopping:
                return
            try:
                await self.tick()
                await self.campaigns()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("hub reminder tick failed; retrying")
