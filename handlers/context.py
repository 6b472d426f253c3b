"""What every handler needs: the database, the world data, the clock and the time zone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy.orm import Session, sessionmaker

from bot.domain.world import World


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Shared dependencies of the handlers, built once at start."""

    sessions: sessionmaker[Session]
    world: World
    tz: tzinfo
    clock: Callable[[], datetime] = utc_now

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit when the block ends normally, roll back on any error."""
        with self.sessions.begin() as session:
            yield session

    def today(self) -> date:
        """Today's date in the organisation's time zone."""
        return self.clock().astimezone(self.tz).date()

    def country_name(self, code: str) -> str:
        """The readable name of a stored alpha-2 code."""
        return self.world.countries.by_code(code).name
