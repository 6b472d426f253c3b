"""Chasing the work: reminders and escalations of overdue steps, and digests at their local time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.domain.local_time import next_local_time, parse_time_of_day
from bot.domain.messages import Message
from bot.domain.places import Place
from bot.domain.playbook import ReminderPolicy
from bot.domain.reminders import (
    OverdueStep,
    ReminderKind,
    kind_of,
    marked_late,
    next_reminder,
    reminder_message,
)
from bot.domain.vocabulary import Severity
from bot.outbox.queue import enqueue
from bot.store import destinations, due
from bot.store.changes import record
from bot.store.models import ChecklistStep, Destination
from handlers.context import Services
from handlers.digest import build_digest
from handlers.report import next_weekly_report, weekly_summary
from handlers.retention import erase_expired

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message the scheduler must post, and where."""

    place: Place
    message: Message
    case_code: str | None = None


def run_due(services: Services, now: datetime, *, started_at: datetime) -> list[Outgoing]:
    """Advance every reminder and digest whose time has come; return what to post, in due order.

    Each row moves to its next time in the same transaction, so nothing fires twice, and a
    catch-up after downtime fires each overdue item once, marked late when it fell due before
    `started_at` (this process's start).
    """
    try:
        erase_expired(services, now)
    except Exception:  # retention must never hold up a reminder
        log.exception("retention failed; it is tried again at the next run")
    policy = services.playbook.reminders
    started = started_at
    planned: list[tuple[datetime, Outgoing]] = []
    with services.transaction() as session:
        lead_room = destinations.lead_destination(session=session)
        team = lead_room or destinations.first_destination(session=session)
        for row in due.due_steps(session=session, now=now):
            when = row.next_reminder_at or row.due_at
            row.next_reminder_at = next_reminder(now, Severity(row.case.severity), policy)
            kind = _kind(row, policy)
            place = _place_for(session, row, kind, lead_room, team)
            if place is None:
                log.warning("%s has no room Tocsin can post in: its reminder waits", row.case.code)
                continue
            tz = services.zone_for_place(session, place)
            message = reminder_message(_overdue(row, when), kind, tz, late=when < started)
            row.reminders_sent += 1
            record(
                session=session,
                case=row.case,
                actor="tocsin",
                place=place,
                action=kind.value,
                now=now,
                detail={"n": row.n, "count": row.reminders_sent},
            )
            planned.append((when, Outgoing(place, message, row.case.code)))
        for destination in due.due_digests(session=session, now=now):
            when = destination.next_digest_at or now
            message = build_digest(session, services, destination, now, late=when < started)
            planned.append((when, Outgoing(destination.place, message)))
            destination.next_digest_at = next_digest(destination, now)
        for destination in due.due_weekly_reports(session=session, now=now):
            when = destination.next_weekly_report_at or now
            summary = weekly_summary(session, services, destination, now)
            message = marked_late(summary) if when < started else summary
            planned.append((when, Outgoing(destination.place, message)))
            destination.next_weekly_report_at = next_weekly_report(destination, now)
        due_order = [item for _, item in sorted(planned, key=lambda pair: pair[0])]
        for item in due_order:  # in the transaction that advanced them: never lost, never twice
            enqueue(
                session=session,
                place=item.place,
                message=item.message,
                now=now,
                case_code=item.case_code,
            )
    return due_order


def _kind(row: ChecklistStep, policy: ReminderPolicy) -> ReminderKind:
    kind = kind_of(row.reminders_sent, policy)
    owner = row.assignee or row.owner_role
    if kind is ReminderKind.CASE_LEAD and owner == due.case_lead(row.case):
        return ReminderKind.TEAM_LEAD  # the lead is the owner: escalate past them
    return kind


def _overdue(row: ChecklistStep, planned_at: datetime) -> OverdueStep:
    return OverdueStep(
        code=row.case.code,
        n=row.n,
        title=row.title,
        owner=row.assignee or row.owner_role,
        lead=due.case_lead(row.case),
        severity=Severity(row.case.severity),
        due_at=row.due_at,
        planned_at=planned_at,
        reminders_sent=row.reminders_sent,
    )


def _place_for(
    session: Session,
    row: ChecklistStep,
    kind: ReminderKind,
    lead_room: Destination | None,
    team: Destination | None,
) -> Place | None:
    """The case's own room; the team lead's for the last escalation; a team room for cases
    raised where Tocsin cannot post (the CLI, a partner's form) or whose room was unbound."""
    if kind is ReminderKind.TEAM_LEAD and lead_room is not None:
        return lead_room.place
    origin = Place(row.case.origin_platform, row.case.origin_address)
    if origin.always_bound:
        return origin
    if origin.deliverable and destinations.is_bound(
        session=session, platform=origin.platform, address=origin.address
    ):
        return origin
    return team.place if team is not None else None


def next_digest(destination: Destination, after: datetime) -> datetime | None:
    """The destination's next digest instant after `after`, in its own time zone."""
    if destination.digest_time is None:
        return None
    at = parse_time_of_day(destination.digest_time)
    return next_local_time(after, at, ZoneInfo(destination.timezone))
