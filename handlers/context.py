"""What every handler needs: the database, the world data, the clock and the time zone."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session, sessionmaker

from bot.domain.case import Disclosure
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.store.destinations import destination_for, destination_timezone
from config.letters import LetterTemplates, default_letters


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class ChangeSignal:
    """Tells whoever listens (the scheduler) that stored work changed, from any thread."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every change."""
        self._listeners.append(listener)

    def notify(self) -> None:
        """Tell every listener; a failing listener is logged, never the caller's problem."""
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                logging.getLogger(__name__).exception("a change listener failed")


@dataclass(frozen=True)
class Services:
    """Shared dependencies of the handlers, built once at start."""

    sessions: sessionmaker[Session]
    world: World
    playbook: Playbook
    tz: tzinfo
    clock: Callable[[], datetime] = utc_now
    changes: ChangeSignal = field(default_factory=ChangeSignal)
    # Principals (`slack:U0123ABC`, `matrix:@alice:example.org`) who are admins everywhere.
    admins: frozenset[str] = frozenset()
    # Closed cases lose their sensitive fields this many days after closing.
    retention_days: int = 180
    # Draft appeals: the letter templates, the team's language and the one for UN mandates.
    letters: LetterTemplates = field(default_factory=default_letters)
    draft_language: str = "en"
    un_language: str = "en"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit when the block ends normally, roll back on any error."""
        with self.sessions.begin() as session:
            yield session

    def zone_for(self, place: Place) -> tzinfo:
        """The time zone to show times in at this place: its own, else the organisation's."""
        with self.transaction() as session:
            return self.zone_for_place(session, place)

    def zone_for_place(self, session: Session, place: Place) -> tzinfo:
        """`zone_for`, inside a transaction already open."""
        name = destination_timezone(session=session, place=place)
        try:
            return ZoneInfo(name) if name else self.tz
        except (ZoneInfoNotFoundError, ValueError):
            return self.tz

    def disclosure_here(self, place: Place) -> Disclosure:
        """`disclosure_for` in a transaction of its own."""
        with self.transaction() as session:
            return self.disclosure_for(session, place)

    def disclosure_for(self, session: Session, place: Place) -> Disclosure:
        """How much of a case this place may see now."""
        destination = destination_for(session=session, place=place)
        chosen = destination.disclosure if destination is not None else None
        return place.disclosure(Disclosure(chosen) if chosen else None)

    def today(self) -> date:
        """Today's date in the organisation's time zone."""
        return self.clock().astimezone(self.tz).date()

    def country_name(self, code: str) -> str:
        """The readable name of a stored alpha-2 code."""
        return self.world.countries.by_code(code).name
