"""Shared fixtures: the world data, and migrated databases (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import sessionmaker

from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.store.db import create_database_engine, normalise_database_url
from bot.store.migrate import upgrade_to_head
from bot.store.sealing import use_keys
from config.playbook import load_playbook
from config.world import load_world
from handlers.context import Services
from tests.pg_schema import POSTGRES_URL, postgres_schema
from tests.ports import free_port
from tests.slack_emulator import SlackEmulator
from tests.synapse_server import SynapseServer

REQUIRE_POSTGRES = os.environ.get("TOCSIN_REQUIRE_POSTGRES") == "1"
OPENED_AT = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
# A fixed, fictional data key for every test and test subprocess.
TEST_DATA_KEY = "dG9jc2luLXRlc3RzLW9ubHktZmljdGlvbmFsLWtleSE="


@pytest.fixture(autouse=True, scope="session")
def data_keys() -> None:
    """Seal and open with the tests' key, as a configured Tocsin does."""
    use_keys([TEST_DATA_KEY])


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One real homeserver for every Matrix test of the session (nio's and Element's clients)."""
    server = SynapseServer(tmp_path_factory.mktemp("synapse"))
    server.start()
    yield server
    server.stop()


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = OPENED_AT) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    try:
        engine = create_engine(
            normalise_database_url(POSTGRES_URL), connect_args={"connect_timeout": 3}
        )
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as error:  # any failure means: not usable here
        return f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(error).__name__})"
    return None


def pytest_report_header() -> str:
    problem = postgres_problem()
    if problem is None:
        return f"database tests: SQLite and PostgreSQL ({POSTGRES_URL})"
    return f"database tests: SQLite only. {problem}; set TOCSIN_TEST_POSTGRES_URL to test it"


@pytest.fixture(scope="session")
def world() -> World:
    return load_world()


@pytest.fixture(scope="session")
def playbook(world: World) -> Playbook:
    return load_playbook(world)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database migrated to head: a fresh SQLite file, or a fresh schema on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "tocsin.db"
        engine = create_database_engine(f"sqlite:///{path}")
        upgrade_to_head(engine)
        yield engine
        engine.dispose()
        return
    yield from _postgres_engine()


def _postgres_engine() -> Iterator[Engine]:
    with fresh_postgres_schema("tocsin_test") as schema:
        engine = create_database_engine(
            POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}
        )
        try:
            upgrade_to_head(engine)
            yield engine
        finally:
            engine.dispose()


@contextlib.contextmanager
def fresh_postgres_schema(prefix: str) -> Iterator[str]:
    """A new, empty schema on the test PostgreSQL server, dropped afterwards; the test is
    skipped when the server cannot be reached (failed under TOCSIN_REQUIRE_POSTGRES=1)."""
    problem = postgres_problem()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{problem}, and TOCSIN_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(f"{problem}: PostgreSQL database tests skipped")
    with postgres_schema(prefix) as schema:
        yield schema


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    """The local Slack, for one test."""
    slack = SlackEmulator()
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def services(
    migrated_engine: Engine, world: World, playbook: Playbook, clock: FrozenClock
) -> Iterator[Services]:
    """Handler services on a transaction that is rolled back after the test."""
    connection = migrated_engine.connect()
    outer = connection.begin()
    sessions = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    yield Services(
        sessions=sessions,
        world=world,
        playbook=playbook,
        tz=ZoneInfo("America/Tegucigalpa"),
        clock=clock,
    )
    outer.rollback()
    connection.close()


def isolated_environment(database: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any Tocsin setting, on a SQLite file of the test's,
    with the tests' data key (pass TOCSIN_DATA_KEY="" to have none)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MATRIX_", "TOCSIN_", "DATABASE_URL", "MAKE"))
    }
    settings = {
        "DATABASE_URL": f"sqlite:///{database}",
        "TOCSIN_DATA_KEY": TEST_DATA_KEY,
        # Never the default port: a process another test left behind must not hold it.
        "TOCSIN_HTTP_PORT": str(free_port()),
        **extra,
    }
    return {**environment, **{k: v for k, v in settings.items() if v != ""}}


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[1]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault drills' tallies: alerts sent, cases, cards, duplicates and losses per drill."""
    from tests.fault_drill import TALLIES

    if TALLIES:
        terminalreporter.write_sep("-", "fault drills")
        for result in TALLIES:
            terminalreporter.write_line(result.line())
