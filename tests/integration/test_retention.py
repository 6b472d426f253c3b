"""Retention and `ua purge`: a case's sensitive values leave the database for good, the
anonymous numbers stay."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, Text, select

from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.store.models import Case, ChecklistStep, Defender, OutboxMessage, Target
from handlers.commands import handle_line
from handlers.context import Services
from handlers.reminders import run_due
from handlers.retention import erase_expired
from tests.conftest import POSTGRES_URL, FrozenClock
from tests.factories import (
    committing_services,
    fresh_services,
    pg_dump,
    remove_committed_cases,
)

ROOM = Place("console", "purge-room")
NAME = "Caro Fictional-Purged"
STORY = "Fictional-Purged story of the night raid"
NOTE = "Fictional-Purged lawyer reached"
REPLY = "Fictional-Purged desk acknowledged"
NEW = (
    f'ua new country=CO threats=raid profiles=lawyer summary="{STORY}" '
    f'defender="{NAME}" organisation="Colectivo Fictional-Purged" '
    'place="Fictional-Purged village" work="Fictional-Purged land work" '
    'domestic_actions="Fictional-Purged complaint" earlier_incidents="Fictional-Purged threats"'
)
SENSITIVE = ("Fictional-Purged",)


def say(services: Services, text: str) -> str:
    reply = handle_line(text, actor="console:admin", place=ROOM, services=services)
    assert reply is not None
    assert not reply.is_error, reply.fallback
    return reply.fallback


def named_case(services: Services) -> str:
    code = say(services, NEW).split()[1].rstrip(":")
    say(services, f"ua done {code} 1 {NOTE}")
    say(services, f"ua reply {code} T1 {REPLY}")
    say(services, f"ua note {code} {NOTE} again")
    return code


def raw_sealed_values(engine: Engine) -> list[str]:
    """The stored (encrypted) bytes of every sensitive column of the case, as text."""
    columns = (
        Defender.name,
        Defender.organisation,
        Defender.work,
        Case.summary,
        Case.place,
        Case.domestic_actions,
        Case.earlier_incidents,
        ChecklistStep.note,
        Target.reply,
        OutboxMessage.payload,  # the case's cards waiting to be posted
    )
    values: list[str] = []
    with engine.connect() as connection:
        for column in columns:
            raw = sa.type_coerce(column, Text)
            values += [v for (v,) in connection.execute(select(raw).where(raw.is_not(None))) if v]
    return values


def test_purge_asks_first_then_leaves_no_trace_in_the_sqlite_files(
    tmp_path: Path, world: World, playbook: Playbook
) -> None:
    services, engine = fresh_services(tmp_path / "tocsin.db", world, playbook)
    try:
        code = named_case(services)
        before = raw_sealed_values(engine)
        sealed = [v for v in before if len(v) > 40]
        assert len(sealed) >= 8
        asked = say(services, f"ua purge {code}")
        assert f"ua purge {code} confirm" in asked
        assert raw_sealed_values(engine) == before  # asking erased nothing
        say(services, f"ua purge {code} confirm")
        shown = say(services, f"ua show {code}") + say(services, f"ua log {code}")
        assert "Fictional-Purged" not in shown
        with services.transaction() as session:
            case = session.scalars(select(Case)).one()
            assert case.erased_at is not None and case.country == "CO" and case.severity
            assert [t.threat for t in case.threats] == ["raid"]
    finally:
        engine.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("tocsin.db*"))
    for value in sealed:
        assert value.encode() not in stored, "an encrypted value is still in the file"


def test_retention_erases_closed_cases_after_the_period_only(
    services: Services, clock: FrozenClock
) -> None:
    code = named_case(services)
    say(services, f"ua close {code} released")
    clock.advance(days=179)
    assert erase_expired(services, clock()) == []
    clock.advance(days=2)
    run_due(services, clock(), started_at=clock())  # the scheduler's tick erases them
    with services.transaction() as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        assert case.erased_at == clock()
        assert case.defender is not None and case.defender.name is None
        assert case.summary == "" and all(s.note is None for s in case.steps)
        assert case.outcome == "released" and case.closed_at is not None
    log = say(services, f"ua log {code}")
    assert "Fictional-Purged" not in log

    say(services, f"ua reopen {code}")  # written to again after the erasure …
    say(services, f"ua note {code} Fictional-Purged neighbour called")
    say(services, f"ua close {code} released")
    clock.advance(days=181)
    assert erase_expired(services, clock()) == [code]  # … so erased again after its close


def test_a_postgresql_dump_after_purge_holds_no_trace(
    migrated_engine: Engine, world: World, playbook: Playbook
) -> None:
    if migrated_engine.dialect.name != "postgresql":
        pytest.skip("the dump is PostgreSQL's")
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    real = committing_services(migrated_engine, world, playbook, datetime(2033, 3, 1, tzinfo=UTC))
    try:
        code = named_case(real)
        sealed = [v for v in raw_sealed_values_of(migrated_engine, code) if len(v) > 40]
        assert sealed
        say(real, f"ua purge {code} confirm")
        dump = pg_dump(POSTGRES_URL)
        assert code in dump
        for value in (*sealed, *SENSITIVE):
            assert value not in dump
    finally:
        remove_committed_cases(migrated_engine, year=2033, room=ROOM.address)


def raw_sealed_values_of(engine: Engine, code: str) -> list[str]:
    raw = sa.type_coerce(Case.summary, Text)
    with engine.connect() as connection:
        summary = connection.execute(select(raw).where(Case.code == code)).scalar_one()
    return [summary]
