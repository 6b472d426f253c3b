"""The ledger: the claim/mark protocol over outbox rows and the record of what was posted under
each key, written once for the dispatcher and for the connector answering a command.

Every step is one short transaction, run off the event loop. A row is sent by whoever claims
it: the dispatcher (`claim_due`), or the connector answering a command, which claims its
answer's own row (`take`) to post it at once and leaves it to the dispatcher when it cannot
(`post_now`). Either marks it `sent`, or gives it back (`release`) when nothing went out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from bot.domain.places import Place
from bot.outbox import posted, queue
from bot.outbox.queue import Claimed


class Changes(Protocol):
    """Tells whoever listens (the dispatcher, the scheduler) that stored work changed."""

    def notify(self) -> None:
        """Tell every listener, from any thread."""

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every change."""


class Store(Protocol):
    """What the ledger works with: transactions, the clock, and the change signal."""

    @property
    def clock(self) -> Callable[[], datetime]:
        """The current time, aware, in UTC."""

    @property
    def changes(self) -> Changes:
        """The signal a change wakes the dispatcher with."""

    def transaction(self) -> AbstractContextManager[Session]:
        """One unit of work: committed when the block ends normally, else rolled back."""


class Ledger:
    """The outbox rows and the posts that stand for their keys, in the database."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # Claiming and marking rows ----------------------------------------------------------------

    async def claim_due(self) -> list[list[Claimed]]:
        """For every place whose oldest pending row is due and free, that row and a few after
        it, held for the lease; each list in sending order."""
        return await asyncio.to_thread(self._claim_due)

    async def take(self, key: str | None) -> bool:
        """Hold the row behind `key` to post it now; False when the dispatcher has it, it was
        sent, or older rows for its place wait (then it goes after them, at once). Keys of no
        row are always free."""
        row = queue.row_id(key)
        if row is None:
            return True
        return await asyncio.to_thread(self._take, row) is not None

    async def take_and_find(
        self, key: str | None, place: Place, keys: Iterable[str | None]
    ) -> dict[str, str] | None:
        """`take`, then `find_all` of `keys` in the same transaction (one look at the database
        before posting): the IDs found, or None when the row is not this caller's to post."""
        row = queue.row_id(key)
        wanted = [k for k in keys if k is not None]
        if row is None:
            return await self.find_all(place, wanted)
        return await asyncio.to_thread(self._take, row, place, wanted)

    async def post_now(
        self,
        key: str | None,
        place: Place,
        keys: Iterable[str | None],
        post: Callable[[dict[str, str]], Awaitable[None]],
        *,
        refusals: tuple[type[BaseException], ...],
    ) -> bool:
        """The answer to a command, posted at once by the connector that took the command,
        else (the row is held or waits behind older ones) by the dispatcher; whether it was
        posted here. `post` is given what was posted before under `keys`. One of `refusals`
        means nothing went out: the row goes back to the dispatcher. Any other failure keeps
        it held, so that the dispatcher, once the hold lapses, looks before posting again."""
        known = await self.take_and_find(key, place, keys)
        if known is None:
            return False
        try:
            await post(known)
        except refusals:
            await self.give_back(key)
            raise
        await self.delivered(key)
        return True

    async def delivered(self, key: str | None) -> None:
        """The row behind this delivery key was posted by the connector answering a command;
        the dispatcher, if rows wait behind it, is woken to send them."""
        row = queue.row_id(key)
        if row is not None:
            await asyncio.to_thread(self._sent, row, True)

    async def sent(self, row_id: int) -> None:
        """The dispatcher posted the row."""
        await asyncio.to_thread(self._sent, row_id, False)

    async def failed(self, row_id: int, error: str, retry_at: datetime | None) -> None:
        """The attempt failed: try again at `retry_at`, or never (a dead letter) when None."""
        await asyncio.to_thread(self._failed, row_id, error, retry_at)

    async def release(self, row_ids: list[int]) -> None:
        """Give back claimed rows nothing was tried for (their place's queue stopped at a
        failure: the dispatcher's next claim brings them again)."""
        if row_ids:
            await asyncio.to_thread(self._release, row_ids, False)

    async def give_back(self, key: str | None) -> None:
        """Give back the row behind a delivery key whose post was refused (nothing went out):
        the dispatcher is woken to try it."""
        row = queue.row_id(key)
        if row is not None:
            await asyncio.to_thread(self._release, [row], True)

    async def seconds_to_next(self, longest: float) -> float:
        """How long until some place's next row may be tried, at most `longest`."""
        when = await asyncio.to_thread(self._next_attempt)
        if when is None:
            return longest
        return min(max((when - self._store.clock()).total_seconds(), 0.01), longest)

    # What was posted under which key -----------------------------------------------------------

    async def find(self, place: Place, key: str) -> str | None:
        """The platform's ID of the message posted under `key` at `place`, if any."""
        return await asyncio.to_thread(self.find_blocking, place, key)

    def find_blocking(self, place: Place, key: str) -> str | None:
        """`find`, for a caller already off the event loop (it blocks)."""
        with self._store.transaction() as session:
            return posted.find_posted(session=session, place=place, key=key)

    async def find_all(self, place: Place, keys: Iterable[str | None]) -> dict[str, str]:
        """`find` for several keys (None ones skipped) in one look: the IDs found, by key."""
        wanted = [key for key in keys if key is not None]
        if not wanted:
            return {}
        return await asyncio.to_thread(self._find_all, place, wanted)

    async def remember(self, place: Place, key: str, message_id: str) -> None:
        """Record the message that now stands for `key` at `place`."""
        await self.remember_all(place, {key: message_id})

    async def remember_all(self, place: Place, message_ids: Mapping[str, str]) -> None:
        """Record, in one transaction, the message that now stands for each key at `place`."""
        if message_ids:
            await asyncio.to_thread(self._remember, place, message_ids)

    async def key_of(self, place: Place, message_id: str) -> str | None:
        """The key a message was posted under (what a reaction to it is about)."""
        return await asyncio.to_thread(self._key_of, place, message_id)

    # In a worker thread ------------------------------------------------------------------------
    # A change that may let the dispatcher send a place's next row now wakes it, rather than
    # leaving it to its next poll.

    def _claim_due(self) -> list[list[Claimed]]:
        with self._store.transaction() as session:
            return queue.claim(session=session, now=self._store.clock())

    def _take(
        self, row: int, place: Place | None = None, keys: list[str] | None = None
    ) -> dict[str, str] | None:
        found: dict[str, str] | None = None
        with self._store.transaction() as session:
            if queue.take(session=session, row_id=row, now=self._store.clock()):
                found = {}
                if place is not None and keys:
                    found = posted.find_all_posted(session=session, place=place, keys=keys)
        if found is None:
            self._store.changes.notify()
        return found

    def _sent(self, row: int, wake_those_behind: bool) -> None:
        now = self._store.clock()
        with self._store.transaction() as session:
            queue.mark_sent(session=session, row_id=row, now=now)
            waiting = wake_those_behind and queue.due_behind(session=session, row_id=row, now=now)
        if waiting:  # else nothing waits on this row: the dispatcher and scheduler sleep on
            self._store.changes.notify()

    def _failed(self, row: int, error: str, retry_at: datetime | None) -> None:
        with self._store.transaction() as session:
            queue.mark_failed(
                session=session, row_id=row, now=self._store.clock(), error=error, retry_at=retry_at
            )

    def _release(self, rows: list[int], wake: bool) -> None:
        with self._store.transaction() as session:
            queue.release(session=session, row_ids=rows)
        if wake:
            self._store.changes.notify()

    def _next_attempt(self) -> datetime | None:
        with self._store.transaction() as session:
            return queue.next_attempt(session=session)

    def _find_all(self, place: Place, keys: list[str]) -> dict[str, str]:
        with self._store.transaction() as session:
            return posted.find_all_posted(session=session, place=place, keys=keys)

    def _remember(self, place: Place, message_ids: Mapping[str, str]) -> None:
        with self._store.transaction() as session:
            posted.remember_all_posted(session=session, place=place, message_ids=message_ids)

    def _key_of(self, place: Place, message_id: str) -> str | None:
        with self._store.transaction() as session:
            return posted.find_posted_key(session=session, place=place, message_id=message_id)
