"""What is due: reminders, digests and weekly summaries, and when the scheduler next wakes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from bot.store.destinations import is_bound_clause
from bot.store.models import Case, ChecklistStep, Destination


def _open_step_reminders() -> Select[ChecklistStep]:
    # The open case is a per-row check, not a join: the planner then walks the steps' reminder
    # index in time order and stops early, where a join scanned every step of every open case.
    return select(ChecklistStep).where(
        ChecklistStep.status == "open",
        ChecklistStep.next_reminder_at.is_not(None),
        _in_open_case(),
    )


def _in_open_case() -> ColumnElement[bool]:
    return select(Case.id).where(Case.id == ChecklistStep.case_id, Case.status == "open").exists()


def next_wakeup(*, session: Session) -> datetime | None:
    """The earliest instant a reminder, a digest or a weekly summary is due; None when
    nothing is scheduled."""
    step = session.scalar(
        _open_step_reminders()
        .with_only_columns(ChecklistStep.next_reminder_at)
        .order_by(ChecklistStep.next_reminder_at)
        .limit(1)
    )
    digest = session.scalar(select(func.min(Destination.next_digest_at)))
    weekly = session.scalar(select(func.min(Destination.next_weekly_report_at)))
    times = [t for t in (step, digest, weekly) if t is not None]
    if not times:
        return None
    # SQLite returns aggregates as naive text or values, without the column type: they are UTC.
    parsed = [t if isinstance(t, datetime) else datetime.fromisoformat(str(t)) for t in times]
    earliest = min(p if p.tzinfo else p.replace(tzinfo=UTC) for p in parsed)
    return earliest.astimezone(UTC)


def due_steps(*, session: Session, now: datetime, limit: int = 500) -> list[ChecklistStep]:
    """Open steps of open cases whose reminder time has come, oldest first, locked for this run."""
    query = (
        _open_step_reminders()
        .where(ChecklistStep.next_reminder_at <= now)
        .options(selectinload(ChecklistStep.case).selectinload(Case.steps))
        .order_by(ChecklistStep.next_reminder_at, ChecklistStep.id)
        .limit(limit)
        .with_for_update(of=ChecklistStep, skip_locked=True)
    )
    return list(session.scalars(query).unique())


def pending_steps(*, session: Session, limit: int) -> list[ChecklistStep]:
    """The next reminders in time order, for `tocsin reminders`."""
    query = (
        _open_step_reminders()
        .options(selectinload(ChecklistStep.case))
        .order_by(ChecklistStep.next_reminder_at, ChecklistStep.id)
        .limit(limit)
    )
    return list(session.scalars(query).unique())


def due_digests(*, session: Session, now: datetime) -> list[Destination]:
    """Destinations whose digest time has come."""
    query = (
        select(Destination)
        .where(
            Destination.next_digest_at.is_not(None),
            Destination.next_digest_at <= now,
            is_bound_clause(),
        )
        .order_by(Destination.next_digest_at, Destination.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def due_weekly_reports(*, session: Session, now: datetime) -> list[Destination]:
    """Destinations whose weekly summary is due."""
    query = (
        select(Destination)
        .where(
            Destination.next_weekly_report_at.is_not(None),
            Destination.next_weekly_report_at <= now,
            is_bound_clause(),
        )
        .order_by(Destination.next_weekly_report_at, Destination.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def scheduled_digests(*, session: Session) -> list[Destination]:
    """Every destination with a digest time, next first."""
    query = (
        select(Destination)
        .where(Destination.next_digest_at.is_not(None))
        .order_by(Destination.next_digest_at)
    )
    return list(session.scalars(query))


def case_lead(case: Case) -> str:
    """Whoever holds the first lead step, else whoever opened the case."""
    for step in sorted(case.steps, key=lambda s: s.n):
        if step.owner_role == "lead" and step.assignee:
            return step.assignee
    return case.opened_by
