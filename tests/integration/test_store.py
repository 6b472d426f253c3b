"""Cases are stored and read back the same on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.store.db import session_factory
from bot.store.migrate import SCHEMA_HEAD, current_revision, head_revision
from bot.store.models import AuditEvent, Base, Case, Defender
from handlers.context import Services
from handlers.intake import open_case_from_alert
from tests.conftest import OPENED_AT, FrozenClock
from tests.factories import remove_committed_cases

CONSOLE = Place(platform="console", address="test")
ALERT = {
    "country": "HN",
    "profiles": ["journalist"],
    "threats": ["arbitrary_detention", "torture"],
    "summary": "Held incommunicado at a police station.",
    "defender": {"name": "Ana Example", "organisation": "Radio Ejemplo"},
}
# The same alert again and again, each time a case of its own (not taken for a duplicate).
REPEATED = {**ALERT, "separate": True}


def test_migrations_reach_head_and_match_the_models(migrated_engine: Engine) -> None:
    assert current_revision(migrated_engine) == head_revision() == SCHEMA_HEAD
    with migrated_engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_an_opened_case_keeps_everything_the_alert_said(services: Services) -> None:
    view = open_case_from_alert(ALERT, actor="console:tester", place=CONSOLE, services=services)
    assert view.code == "UA-2026-0001"
    with services.transaction() as session:
        case = session.scalars(select(Case).where(Case.code == view.code)).one()
        assert case.country == "HN"
        assert case.severity == "critical" and case.severity_derived
        assert [t.threat for t in case.threats] == ["arbitrary_detention", "torture"]
        assert case.defender is not None and case.defender.name == "Ana Example"
        assert case.targets[0].name.startswith("Special Rapporteur on the situation")
        assert case.steps[0].due_at == OPENED_AT.replace(minute=45)
        assert case.created_at == OPENED_AT and case.created_at.tzinfo is not None
        audit = session.scalars(select(AuditEvent)).one()
        assert (audit.action, audit.actor, audit.destination) == (
            "case_opened",
            "console:tester",
            "console:test",
        )


def test_the_defender_lives_in_its_own_table(services: Services) -> None:
    open_case_from_alert(ALERT, actor="t", place=CONSOLE, services=services)
    with services.transaction() as session:
        assert session.scalars(select(Defender.name)).one() == "Ana Example"
        assert "Ana Example" not in str(session.scalars(select(Case.summary)).one())


def test_case_numbers_count_up_and_restart_each_year(
    services: Services, clock: FrozenClock
) -> None:
    codes = [
        open_case_from_alert(REPEATED, actor="t", place=CONSOLE, services=services).code
        for _ in range(3)
    ]
    assert codes == ["UA-2026-0001", "UA-2026-0002", "UA-2026-0003"]
    clock.now = datetime(2027, 1, 1, 12, tzinfo=UTC)
    assert (
        open_case_from_alert(REPEATED, actor="t", place=CONSOLE, services=services).code
        == "UA-2027-0001"
    )


def test_the_case_year_follows_the_organisations_time_zone(
    services: Services, clock: FrozenClock
) -> None:
    # 03:00 UTC on New Year's Day is still 31 December in Tegucigalpa (UTC-6).
    clock.now = datetime(2027, 1, 1, 3, tzinfo=UTC)
    assert open_case_from_alert(
        REPEATED, actor="t", place=CONSOLE, services=services
    ).code.startswith("UA-2026-")


def test_concurrent_intake_never_reuses_a_case_code(
    migrated_engine: Engine, world: World, playbook: Playbook
) -> None:
    """Several workers opening cases at once each get their own code (real commits, cleaned up)."""
    real = Services(
        sessions=session_factory(migrated_engine),
        world=world,
        playbook=playbook,
        tz=UTC,
        clock=FrozenClock(datetime(2031, 5, 1, tzinfo=UTC)),
    )
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(
                pool.map(
                    lambda _: (
                        open_case_from_alert(REPEATED, actor="t", place=CONSOLE, services=real).code
                    ),
                    range(12),
                )
            )
        assert sorted(codes) == [f"UA-2031-{n:04d}" for n in range(1, 13)]
    finally:
        remove_committed_cases(migrated_engine, year=2031, room=CONSOLE.address)
