"""The scheduler: one APScheduler timer for the next due instant, re-armed from the database.

The database holds every reminder, escalation, follow-up and digest time; the scheduler holds a
single job derived from them, so a restart rebuilds it with one query and nothing is pickled.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.delivery import Delivery
from bot.store.leader import LeaderLock
from bot.store.schedule import next_wakeup
from handlers.context import Services
from handlers.reminders import run_due

log = logging.getLogger(__name__)

JOB_ID = "tocsin-next-due"
STANDBY_POLL_SECONDS = 5.0


class Scheduler:
    """Chases due work while this process holds the scheduler lock; waits as a standby otherwise."""

    def __init__(self, services: Services, delivery: Delivery, lock: LeaderLock) -> None:
        self._services = services
        self._delivery = delivery
        self._lock = lock
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._leading = False
        self._standby: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start on the running loop; lead now if the lock is free, else keep trying."""
        self._loop = asyncio.get_running_loop()
        self._aps.start()
        self._services.changes.subscribe(self.wake)
        if await asyncio.to_thread(self._lock.try_acquire):
            await self._lead()
        else:
            log.info("another Tocsin process runs the scheduler: waiting as a standby")
            self._standby = asyncio.create_task(self._wait_for_lead())

    async def stop(self) -> None:
        """Stop scheduling and give the lock up."""
        if self._standby is not None:
            self._standby.cancel()
        self._aps.shutdown(wait=False)
        await asyncio.to_thread(self._lock.release)

    def wake(self) -> None:
        """Something changed (from any thread): look again at when the next item is due."""
        if self._loop is not None and self._leading:
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._arm()))

    async def _lead(self) -> None:
        self._leading = True
        log.info("this process runs the scheduler")
        await self._arm()

    async def _wait_for_lead(self) -> None:
        while True:
            await asyncio.sleep(STANDBY_POLL_SECONDS)
            if await asyncio.to_thread(self._lock.try_acquire):
                await self._lead()
                return

    async def _arm(self) -> None:
        when = await asyncio.to_thread(self._next_wakeup)
        if when is None:
            if self._aps.get_job(JOB_ID):
                self._aps.remove_job(JOB_ID)
            return
        self._aps.add_job(
            self._tick,
            trigger=DateTrigger(run_date=when),
            id=JOB_ID,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )

    def _next_wakeup(self) -> datetime | None:
        with self._services.transaction() as session:
            return next_wakeup(session=session)

    async def _tick(self) -> None:
        if not await asyncio.to_thread(self._lock.still_held):
            self._leading = False
            self._standby = asyncio.create_task(self._wait_for_lead())
            return
        try:
            outgoing = await asyncio.to_thread(run_due, self._services, self._services.clock())
            for item in outgoing:
                await self._delivery.send(item.place, item.message)
        except Exception:
            log.exception("the scheduler's run failed; it tries again at the next due time")
        await self._arm()
