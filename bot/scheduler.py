"""The scheduler: one APScheduler timer for the next due instant, re-armed from the database.

The database holds every reminder, escalation, follow-up and digest time; the scheduler holds a
single job derived from them, so a restart rebuilds it with one query and nothing is pickled.
It only decides what is due: what that posts goes to the outbox, and the dispatcher (built and
run by `bot.app`) delivers it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.store.due import next_wakeup
from bot.store.leader import LeaderLock
from handlers.context import Services
from handlers.reminders import run_due

log = logging.getLogger(__name__)

JOB_ID = "tocsin-next-due"
STANDBY_POLL_SECONDS = 5.0
# Even when no change wakes it, the scheduler looks at the database this often: a lost wake-up
# or a row written by another process delays work by a minute at most, never indefinitely.
HEARTBEAT = timedelta(seconds=60)
RETRY_FIRST, RETRY_LONGEST = timedelta(seconds=5), timedelta(minutes=5)


class Scheduler:
    """Chases due work while this process holds the scheduler lock; waits as a standby otherwise."""

    def __init__(
        self, services: Services, wake_outbox: Callable[[], None], lock: LeaderLock
    ) -> None:
        """`wake_outbox` tells the dispatcher that a run wrote messages to the outbox."""
        self._services = services
        self._wake_outbox = wake_outbox
        self._lock = lock
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._leading = False
        self._standby: asyncio.Task[None] | None = None
        self._arming = asyncio.Lock()
        self._running = asyncio.Lock()
        self._retry = RETRY_FIRST
        self.started_at = services.clock()
        # Counts changes signalled, so a run knows whether its "next due" is still the truth.
        self._changes = 0

    async def start(self) -> None:
        """Start on the running loop; lead now if the lock is free, else keep trying."""
        self._loop = asyncio.get_running_loop()
        self.started_at = self._services.clock()
        self._aps.start()
        self._services.changes.subscribe(self.wake)
        if await self._try_lock():
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

    def running(self) -> bool:
        """Whether the scheduler is up (leading, or standing by for the lock)."""
        return bool(self._aps.running)

    def wake(self) -> None:
        """Something changed (from any thread): look again at when the next item is due."""
        self._changes += 1
        if self._loop is not None and self._leading:
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._arm()))

    async def _try_lock(self) -> bool:
        try:
            return await asyncio.to_thread(self._lock.try_acquire)
        except Exception:
            log.exception("could not reach the database to take the scheduler lock")
            return False

    async def _lead(self) -> None:
        self._leading = True
        log.info("this process runs the scheduler")
        await self._arm()

    async def _wait_for_lead(self) -> None:
        while True:
            await asyncio.sleep(STANDBY_POLL_SECONDS)
            if await self._try_lock():
                await self._lead()
                return

    async def _arm(self, at: datetime | None = None) -> None:
        """Set the single timer to the next due instant (or `at`), capped by the heartbeat."""
        async with self._arming:
            now = self._services.clock()
            try:
                when = at or await asyncio.to_thread(self._next_wakeup)
            except Exception:
                log.exception("could not read the next due time; trying again shortly")
                when = now + self._retry
            latest = now + HEARTBEAT
            run_at = min(when, latest) if when else latest
            # Two instances may overlap by an instant; the running lock keeps them in turn.
            self._aps.add_job(
                self._tick,
                trigger=DateTrigger(run_date=max(run_at, now)),
                id=JOB_ID,
                replace_existing=True,
                misfire_grace_time=None,
                coalesce=True,
                max_instances=2,
            )

    def _next_wakeup(self) -> datetime | None:
        with self._services.transaction() as session:
            return next_wakeup(session=session)

    async def _tick(self) -> None:
        async with self._running:
            if not await asyncio.to_thread(self._still_leading):
                self._leading = False
                self._standby = asyncio.create_task(self._wait_for_lead())
                return
            changes = self._changes
            try:
                when = await self._run_everything_due()
            except Exception:
                log.exception("the scheduler's run failed; retrying in %s", self._retry)
                retry_at = self._services.clock() + self._retry
                self._retry = min(self._retry * 2, RETRY_LONGEST)
                await self._arm(at=retry_at)
                return
            self._retry = RETRY_FIRST
        # A change during the run may have made something due sooner: then read it afresh.
        await self._arm(at=when if changes == self._changes else None)

    def _still_leading(self) -> bool:
        try:
            return self._lock.still_held()
        except Exception:
            log.exception("could not check the scheduler lock")
            return False

    async def _run_everything_due(self) -> datetime | None:
        """Run batches until nothing is due, and say when the next item is (None: nothing is
        scheduled); what they post waits in the outbox, where the dispatcher takes it from."""
        while True:
            now = self._services.clock()
            run = functools.partial(run_due, self._services, now, started_at=self.started_at)
            outgoing = await asyncio.to_thread(run)
            if outgoing:
                self._wake_outbox()
            when = await asyncio.to_thread(self._next_wakeup)
            if not outgoing or when is None or when > self._services.clock():
                return when
