"""Erasing a case's sensitive fields for good, keeping what the statistics need."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, delete, or_, select, text
from sqlalchemy.orm import Session

from bot.domain.case import FREE_TEXT_DETAILS
from bot.store.models import AuditEvent, Case, OutboxMessage

log = logging.getLogger(__name__)

# Tables whose rows held the erased values, compacted after an erasure on PostgreSQL.
_TOUCHED_TABLES = ("cases", "defenders", "targets", "checklist_steps", "audit_events", "outbox")


def erase_case(*, session: Session, case: Case, now: datetime) -> None:
    """Blank the name, organisation, gender, work, summary, place, domestic actions, earlier
    incidents, source, notes and replies of the case."""
    if case.defender is not None:
        defender = case.defender
        defender.name = defender.organisation = defender.gender = defender.work = None
    case.summary = ""
    case.place = case.domestic_actions = case.earlier_incidents = None
    case.source_reported_by = None
    for target in case.targets:
        target.reply = None
    for step in case.steps:
        step.note = None
    for event in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)):
        if any(key in event.detail for key in FREE_TEXT_DETAILS):
            event.detail = {k: v for k, v in event.detail.items() if k not in FREE_TEXT_DETAILS}
    _drop_undelivered(session, case.code)
    case.erased_at = now


def _drop_undelivered(session: Session, case_code: str) -> None:
    """Forget what was still to be posted about the case: those messages may name the defender."""
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.case_code == case_code, OutboxMessage.status != OutboxMessage.SENT
        )
    )


def expired_cases(*, session: Session, closed_before: datetime, limit: int = 200) -> list[Case]:
    """Closed cases past their retention whose sensitive fields are still there."""
    query = (
        select(Case)
        .where(
            Case.status == "closed",
            Case.closed_at < closed_before,
            # Never erased, or reopened and written to since.
            or_(Case.erased_at.is_(None), Case.erased_at <= Case.closed_at),
        )
        .order_by(Case.closed_at)
        .limit(limit)
        .with_for_update(of=Case)
    )
    return list(session.scalars(query))


def wipe_free_space(engine: Engine) -> None:
    """Make erased values unrecoverable from the database's files, not just unreachable; a
    failure is logged (the erasure itself is already committed) and the next one tries again.

    SQLite runs with secure_delete, which zeroes what a write frees; the write-ahead log still
    holds old page images until a checkpoint truncates it. PostgreSQL keeps old row versions
    until VACUUM removes them.
    """
    try:
        _wipe(engine)
    except Exception:
        log.exception("could not compact the database after an erasure")


def _wipe(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        # Outside any transaction: SQLAlchemy's would make the checkpoint fail as locked.
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA busy_timeout=1000")
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            cursor.execute("PRAGMA busy_timeout=5000")
        finally:
            raw.close()
        if busy:
            log.warning(
                "the write-ahead log is busy: erased values leave it at the next checkpoint"
            )
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in _TOUCHED_TABLES:
            connection.execute(text(f"VACUUM {table}"))
