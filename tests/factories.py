"""Rows for bulk inserts in tests and benchmarks: fictional cases and pending steps."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.access import principal
from bot.domain.commands.request import Command
from bot.domain.places import Place
from bot.domain.playbook import Playbook
from bot.domain.world import World
from bot.outbox.queue import mark_sent, row_id
from bot.store.db import create_database_engine, session_factory
from bot.store.migrate import upgrade_to_head
from bot.store.models import AuditEvent, Case, CaseCounter, Destination, OutboxMessage
from bot.store.sealing import generate_key, has_keys, use_keys
from handlers.commands import handle
from handlers.context import Services


def fresh_services(
    path: Path, world: World, playbook: Playbook, tz: tzinfo = UTC
) -> tuple[Services, Engine]:
    """Services on a new SQLite file migrated to head, with real commits (dispose the engine).
    Outside the tests (a benchmark) a fresh data key is used when none is set."""
    if not has_keys():
        use_keys([generate_key()])
    engine = create_database_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    services = Services(sessions=session_factory(engine), world=world, playbook=playbook, tz=tz)
    return services, engine


TEST_ADMIN = "admin-for-tests"


def bind_place(services: Services, place: Place, *, disclosure: str | None = None) -> None:
    """Bind the place as an admin would (`ua bind Test team`), and set its disclosure."""
    admin = replace(services, admins=frozenset({principal(place.platform, TEST_ADMIN)}))
    commands = ["bind Test team"] + ([f"disclosure {disclosure}"] if disclosure else [])
    for text in commands:
        reply = handle(Command(actor=TEST_ADMIN, place=place, text=text), admin)
        assert not reply.is_error, reply.fallback
        row = row_id(reply.outbox_key)
        if row is not None:  # the answering connector would have posted it
            with services.transaction() as session:
                mark_sent(session=session, row_id=row, now=services.clock())


def case_row(*, year: int, number: int, at: datetime, origin: str = "room") -> dict[str, Any]:
    """An open, fictional case opened at `at` in the console room `origin`."""
    return {
        "code": f"UA-{year}-{number:04d}",
        "year": year,
        "number": number,
        "status": "open",
        "country": "HN",
        "severity": "high",
        "severity_derived": True,
        "profiles": [],
        "perpetrators": [],
        "summary": "fictional",
        "financiers": [],
        "consent_government": False,
        "consent_un_public": False,
        "consent_media": False,
        "opened_by": "factory",
        "created_at": at,
        "updated_at": at,
        "origin_platform": "console",
        "origin_address": origin,
    }


def step_row(*, case_id: int, n: int, due: datetime) -> dict[str, Any]:
    """An open step of the lead, due (and to be reminded) at `due`."""
    return {
        "case_id": case_id,
        "n": n,
        "key": "factory",
        "title": f"fictional step {n}",
        "owner_role": "lead",
        "status": "open",
        "due_at": due,
        "next_reminder_at": due,
        "reminders_sent": 0,
    }


def remove_committed_cases(engine: Engine, *, year: int, room: str) -> None:
    """Clean up after a test that committed for real: the year's cases, counter and audit rows,
    and the room they made a destination, so later tests never see them."""
    with Session(engine) as session, session.begin():
        for case in session.scalars(select(Case).where(Case.year == year)):
            session.delete(case)
        session.query(AuditEvent).filter(AuditEvent.case_id.is_(None)).delete()
        session.query(Destination).filter(Destination.address == room).delete()
        session.query(OutboxMessage).filter(OutboxMessage.address == room).delete()
        session.query(CaseCounter).filter(CaseCounter.year == year).delete()


def committing_services(engine: Engine, world: World, playbook: Playbook, at: datetime) -> Services:
    """Services that really commit on `engine` (for what another process must see: a dump),
    with the clock stopped at `at`; clean up with `remove_committed_cases`."""
    return Services(
        sessions=sessionmaker(engine, expire_on_commit=False),
        world=world,
        playbook=playbook,
        tz=UTC,
        clock=lambda: at,
    )


def pg_dump(url: str) -> str:
    """The data of the PostgreSQL database at `url`, as `pg_dump --data-only` prints it."""
    parsed = make_url(url)
    return subprocess.run(
        [
            "pg_dump",
            *("-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)),
            *("-U", parsed.username or "postgres", "--data-only", parsed.database or "test"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
