"""Only one scheduler at a time: a PostgreSQL advisory lock held for the life of the process."""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

# "tocs" in ASCII, with the schema as the second key: the schedulers of one Tocsin (one schema)
# compete for the lock; Tocsins in other schemas of the same database hold locks of their own.
SCHEDULER_LOCK_KEY = 0x746F6373
TRY_LOCK = text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))")
UNLOCK = text("SELECT pg_advisory_unlock(:key, hashtext(current_schema()))")


class LeaderLock:
    """Leadership of the scheduler. SQLite allows one process by construction: always leader."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    @property
    def shared(self) -> bool:
        """Whether several processes may compete (PostgreSQL)."""
        return self._engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take the lock if it is free (or already ours); False while another process holds it."""
        if not self.shared:
            return True
        if self._connection is not None:
            return self.still_held()
        connection = self._engine.connect()
        held = connection.execute(TRY_LOCK, {"key": SCHEDULER_LOCK_KEY}).scalar()
        connection.commit()
        if held:
            self._connection = connection
            return True
        connection.close()
        return False

    def still_held(self) -> bool:
        """Whether the connection that holds the lock is alive (if it died, so did the lock)."""
        if not self.shared:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
            return True
        except DBAPIError:
            log.warning("lost the scheduler lock: its database connection failed")
            self._connection = None
            return False

    def release(self) -> None:
        """Give the lock up: the connection is discarded, not pooled, since the lock lives on it."""
        if self._connection is not None:
            try:
                with contextlib.suppress(DBAPIError):
                    self._connection.execute(UNLOCK, {"key": SCHEDULER_LOCK_KEY})
                self._connection.invalidate()
                self._connection.close()
            finally:
                self._connection = None
