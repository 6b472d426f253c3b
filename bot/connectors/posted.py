"""What a connector posted under a key (a case card, a reminder), looked up off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from bot.domain.case import Place
from bot.store.outbox import due_behind, mark_sent, release, row_id, take
from bot.store.posted import find_all_posted, find_posted, find_posted_key, remember_all_posted
from handlers.context import Services


class PostedMessages:
    """The platform message IDs that stand for keys in each place, kept in the database."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def find(self, place: Place, key: str) -> str | None:
        """The ID of the message posted under `key` at `place`, if any."""
        return await asyncio.to_thread(self._find, place, key)

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

    async def delivered(self, key: str | None) -> None:
        """The outbox row behind this delivery key was posted: the dispatcher leaves it."""
        row = row_id(key)
        if row is not None:
            await asyncio.to_thread(self._delivered, row)

    async def take(self, key: str | None) -> bool:
        """Hold the outbox row behind `key` to post it now; False when the dispatcher has it
        or it was sent (then it is not to be posted here). Keys of no row are always free."""
        row = row_id(key)
        if row is None:
            return True
        return await asyncio.to_thread(self._take, row) is not None

    async def take_and_find(
        self, key: str | None, place: Place, keys: Iterable[str | None]
    ) -> dict[str, str] | None:
        """`take`, then `find_all` of `keys` in the same transaction (one look at the database
        before posting): the IDs found, or None when the row is not this caller's to post."""
        row = row_id(key)
        wanted = [k for k in keys if k is not None]
        if row is None:
            return await self.find_all(place, wanted)
        return await asyncio.to_thread(self._take, row, place, wanted)

    async def give_back(self, key: str | None) -> None:
        """The post was refused, so nothing went out: the dispatcher may try the row."""
        row = row_id(key)
        if row is not None:
            await asyncio.to_thread(self._give_back, row)

    # Each change below may let the dispatcher send the next row for the place now: it is
    # woken rather than left to its next poll.

    def _take(
        self, row: int, place: Place | None = None, keys: list[str] | None = None
    ) -> dict[str, str] | None:
        found: dict[str, str] | None = None
        with self._services.transaction() as session:
            if take(session=session, row_id=row, now=self._services.clock()):
                found = {}
                if place is not None and keys:
                    found = find_all_posted(session=session, place=place, keys=keys)
        if found is None:
            self._services.changes.notify()
        return found

    def _give_back(self, row: int) -> None:
        with self._services.transaction() as session:
            release(session=session, row_ids=[row])
        self._services.changes.notify()

    def _delivered(self, row: int) -> None:
        now = self._services.clock()
        with self._services.transaction() as session:
            mark_sent(session=session, row_id=row, now=now)
            due = due_behind(session=session, row_id=row, now=now)
        if due:  # else nothing waits on this row: the dispatcher and scheduler sleep on
            self._services.changes.notify()

    def _find(self, place: Place, key: str) -> str | None:
        with self._services.transaction() as session:
            return find_posted(session=session, place=place, key=key)

    def _find_all(self, place: Place, keys: list[str]) -> dict[str, str]:
        with self._services.transaction() as session:
            return find_all_posted(session=session, place=place, keys=keys)

    def _remember(self, place: Place, message_ids: Mapping[str, str]) -> None:
        with self._services.transaction() as session:
            remember_all_posted(session=session, place=place, message_ids=message_ids)

    def _key_of(self, place: Place, message_id: str) -> str | None:
        with self._services.transaction() as session:
            return find_posted_key(session=session, place=place, message_id=message_id)
