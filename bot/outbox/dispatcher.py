"""The dispatcher: delivers outbox rows through the connectors, in order per destination,
retrying with backoff and jitter, honouring Retry-After, recording every attempt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import timedelta

from bot.connectors.contract import DeliveryFailed, Sender
from bot.outbox.ledger import Ledger, Store
from bot.outbox.queue import Claimed

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=1)
LONGEST_RETRY = timedelta(minutes=5)
IDLE_POLL_S = 5.0
MIN_RETRY_AFTER_S = 0.5


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> timedelta:
    """The wait before the next attempt: what the service asked for, else exponential backoff
    from one second, capped at five minutes, with full jitter on its upper half."""
    if retry_after is not None:
        return timedelta(seconds=max(retry_after, MIN_RETRY_AFTER_S))
    ceiling: timedelta = min(FIRST_RETRY * (2 ** min(attempts, 20)), LONGEST_RETRY)
    return ceiling / 2 + ceiling / 2 * rng.random()


class Connectors:
    """The running connectors, by the platform whose places each serves."""

    def __init__(self) -> None:
        self._senders: dict[str, Sender] = {}

    def register(self, platform: str, sender: Sender) -> None:
        """Let `sender` post to places of `platform`."""
        self._senders[platform] = sender

    def serving(self, platform: str) -> Sender | None:
        """The connector for the platform, if one is running."""
        return self._senders.get(platform)


class Dispatcher:
    """Delivers what handlers and the scheduler wrote to the outbox; several may run at once."""

    def __init__(self, store: Store, connectors: Connectors, *, seed: int | None = None) -> None:
        self._store = store
        self._ledger = Ledger(store)
        self._connectors = connectors
        self._rng = random.Random(seed)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        """Deliver in the background until `stop`; wakes at once on every stored change."""
        self._loop = asyncio.get_running_loop()
        self._store.changes.subscribe(self._wake_threadsafe)
        self._task = asyncio.create_task(self._run())

    async def stop(self, drain_s: float = 0.0) -> None:
        """Stop, first sending for up to `drain_s` what is due (a shutdown flushes what it
        can); rows still claimed are freed when their lease ends."""
        if self._task is not None and drain_s > 0:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(drain_s):
                    await self.deliver_due()
        # The flag ends the loop even where a cancellation is lost (asyncio.wait_for on
        # Python 3.11 can swallow one that arrives as its wait completes).
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Look at the outbox now."""
        self._wake.set()

    def _wake_threadsafe(self) -> None:
        self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.deliver_due()
                wait = await self._ledger.seconds_to_next(IDLE_POLL_S)
            except Exception:
                log.exception("the outbox dispatcher failed; trying again shortly")
                wait = IDLE_POLL_S
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def deliver_due(self) -> int:
        """Deliver every row due now, destination by destination in order; how many were sent."""
        sent = 0
        while True:
            batches = await self._ledger.claim_due()
            if not batches:
                return sent
            # A failed head has moved to a later attempt or the dead letters: the next claim
            # brings the rows behind it, or what is newly due, never the same row again now.
            results = await asyncio.gather(*(self._deliver_in_order(b) for b in batches))
            sent += sum(results)

    async def _deliver_in_order(self, batch: list[Claimed]) -> int:
        for done, item in enumerate(batch):
            if not await self._deliver_one(item):
                await self._ledger.release([later.id for later in batch[done + 1 :]])
                return done
        return len(batch)

    async def _deliver_one(self, item: Claimed) -> bool:
        try:
            sender = self._connectors.serving(item.place.platform)
            if sender is None:
                raise DeliveryFailed(f"no {item.place.platform} connector is running")
            await sender.send(item.place, item.message, item.key, maybe_sent=item.maybe_sent)
        except asyncio.CancelledError:
            raise
        except DeliveryFailed as failure:
            await self._failed(item, failure)
            return False
        except Exception as error:
            # Logged without the message: it may name a defender.
            await self._failed(item, DeliveryFailed(repr(error)[:300]))
            return False
        await self._ledger.sent(item.id)
        return True

    async def _failed(self, item: Claimed, failure: DeliveryFailed) -> None:
        retry_at = None
        if not failure.permanent:
            retry_at = self._store.clock() + retry_delay(
                item.attempts, failure.retry_after, self._rng
            )
        log.warning(
            "outbox row %d for %s: attempt %d failed (%s); %s",
            item.id,
            item.place,
            item.attempts + 1,
            failure.reason,
            f"next try at {retry_at:%H:%M:%S}" if retry_at else "given up (see tocsin outbox)",
        )
        await self._ledger.failed(item.id, failure.reason, retry_at)
