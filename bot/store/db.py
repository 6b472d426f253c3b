"""The database engine and sessions, set up the same way for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long a command waits for a database that is locked or restarting before it gives up.
PATIENCE_S = 20.0
FIRST_PAUSE_S, LONGEST_PAUSE_S = 0.2, 2.0
# A connection option: its transaction only reads, so on SQLite it begins deferred and takes
# no write lock (a long report does not hold up alert intake).
READ_ONLY = "tocsin_read_only"


def normalise_database_url(url: str) -> URL:
    """The SQLAlchemy URL to use: bare `postgres://` URLs (as hosts give them) get psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_database_engine(url: str | URL, **options: Any) -> Engine:
    """An engine with foreign keys enforced and, on SQLite, concurrent readers allowed."""
    parsed = normalise_database_url(url) if isinstance(url, str) else url
    # A pooled connection a restarted server dropped is noticed and replaced on checkout.
    engine = create_engine(parsed, **{"pool_pre_ping": True, **options})
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_immediate)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy emits BEGIN itself instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Deleted and overwritten content is zeroed, so an erased name leaves no bytes behind.
    cursor.execute("PRAGMA secure_delete=ON")
    if not _is_memory(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Take the write lock up front: a deferred transaction that reads and then writes fails at
    # once (SQLITE_BUSY_SNAPSHOT) when another writer got in between, whatever the busy timeout.
    # A read-only transaction (`read_only_session`) writes nothing, so it needs no lock.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _is_memory(dbapi_connection: Any) -> bool:
    cursor = dbapi_connection.cursor()
    rows = cursor.execute("PRAGMA database_list").fetchall()
    cursor.close()
    return any(row[1] == "main" and not row[2] for row in rows)


def sqlite_file_missing(engine: Engine) -> bool:
    """Whether the engine is SQLite on a file that does not exist (connecting would create it)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return False
    return not Path(database).exists()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (replies are built from them)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def read_only_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reading only, rolled back at the end: on SQLite its transaction begins
    deferred (a snapshot in WAL mode), so writers in other connections are not kept waiting."""
    with sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        try:
            yield session
        finally:
            session.rollback()


def is_transient(error: BaseException) -> bool:
    """Whether a database error may pass by itself: a SQLite file another process holds
    locked, a PostgreSQL server restarting, a connection it dropped."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    if isinstance(error.orig, sqlite3.Error):
        text = str(error.orig).lower()
        return "locked" in text or "busy" in text
    return True


@contextmanager
def unavailable_when_transient() -> Iterator[None]:
    """Turn a database error that may pass by itself into `Unavailable`, for a caller that
    tells its client to come back (an HTTP 503) rather than failing."""
    try:
        yield
    except DBAPIError as error:
        if is_transient(error):
            raise Unavailable(type(error.orig).__name__) from error
        raise


def patiently(work: Callable[[], T], *, patience_s: float = PATIENCE_S) -> T:
    """Run `work` (one whole transaction), running it again while the database is briefly
    unavailable, for up to `patience_s`; then the last error is raised."""
    deadline = time.monotonic() + patience_s
    pause = FIRST_PAUSE_S
    while True:
        try:
            return work()
        except DBAPIError as error:
            if not is_transient(error) or time.monotonic() + pause > deadline:
                raise
            log.warning("the database is unavailable (%s); trying again", type(error.orig))
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)
