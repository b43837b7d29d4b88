"""The desk's scheduler: one background task per process, coordinated through the store.

Every ``desk.schedule_poll_s`` it releases the approved submissions whose ``publish_at`` has
come (the due set in the store; a lease per submission and the ``approved → publishing``
transition make sure exactly one process releases each) and brings the outcomes of submissions
being published up to date, which notifies their submitters. Any process may die at any time:
what it did not finish stays due in the store for the next tick of any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.desk.service import DeskService

log = logging.getLogger(__name__)


class DeskScheduler:
    def __init__(self, desk: DeskService, poll_s: float) -> None:
        self.desk = desk
        self._poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="desk-schedule")

    async def stop(self) -> None:
        # The Redis client may turn a cancellation inside a call into a connection error (an
        # Exception the loop survives); the flag makes the loop stop anyway.
        self._stopping = True
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def tick(self) -> None:
        await self.desk.release_due()
        await self.desk.sync_publishing()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("desk schedule tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._stop.wait()
