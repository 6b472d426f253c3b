"""Recording precautionary, provisional and interim measures, and scheduling their follow-ups."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.orm import Session

from bot.domain.commands.forms import CommandError, RecordMeasure
from bot.domain.commands.request import Command
from bot.domain.lifecycle import StepStatus
from bot.domain.measures import (
    ACTIVE_STATES,
    MeasureBody,
    UnknownBodyError,
    follow_up_after,
    follow_up_title,
    measure_body,
    review_title,
)
from bot.domain.messages import Message
from bot.domain.playbook import MeasureFollowUps
from bot.store.changes import lock_case, record
from bot.store.models import Case, ChecklistStep, Measure
from handlers.context import Services
from handlers.loading import card_reply, open_case_for_change
from handlers.registry import handles

FOLLOW_UP, REVIEW = "measure_follow_up", "measure_review"
DATE_RANGE = timedelta(days=5 * 366)


@handles(RecordMeasure)
def record_measure(change: RecordMeasure, request: Command, services: Services) -> Message:
    """`ua measure CODE BODY REF STATE [date] [review=date]`: record it and plan its follow-ups."""
    actor, place = request.actor, request.place
    try:
        body = measure_body(change.body)
    except UnknownBodyError as error:
        raise CommandError(str(error)) from None
    now = services.clock()
    _check_dates(change, now.astimezone(services.tz).date())
    with services.transaction() as session:
        case = open_case_for_change(lock_case(session=session, code=change.code), change.code)
        measure = _measure(session, case, body, change.reference)
        on = change.on or now.astimezone(services.tz).date()
        _set_state(measure, change.state, on, now)
        _supersede(case, measure, change.state)
        start = datetime.combine(on, now.astimezone(services.tz).timetz())
        due = plan_follow_up(case, measure, body, start, services.playbook.measures)
        if change.review is not None and change.state in ACTIVE_STATES:
            review_at = datetime.combine(change.review, time(9), tzinfo=services.tz)
            _set_review(case, measure, review_title(body, change.reference), review_at)
        record(
            session=session,
            case=case,
            actor=actor,
            place=place,
            action="measure",
            now=now,
            detail={
                "body": body.name,
                "reference": change.reference,
                "state": change.state,
                "on": on.isoformat(),
                "follow_up": due.isoformat() if due else None,
            },
        )
        headline = f"{body.name} {body.kind} measures {change.reference}: {change.state}."
        if due is not None:
            headline += f" Follow-up added, due {_local(due, services.tz)}."
        return card_reply(session, services, case, place, headline)


def _check_dates(change: RecordMeasure, today: date) -> None:
    if change.on is not None and not today - DATE_RANGE <= change.on <= today:
        raise CommandError(
            f"{change.on.isoformat()} is not a plausible date for this change: give a date "
            f"between {(today - DATE_RANGE).isoformat()} and today."
        )
    if change.review is not None and not today <= change.review <= today + DATE_RANGE:
        raise CommandError(
            f"review={change.review.isoformat()}: give a review date between today and "
            f"{(today + DATE_RANGE).isoformat()}."
        )


def plan_follow_up(
    case: Case, measure: Measure, body: MeasureBody, start: datetime, cadence: MeasureFollowUps
) -> datetime | None:
    """Add the next follow-up step for the measure's state; None when the state needs none."""
    delay = follow_up_after(measure.status, cadence)
    if delay is None:
        measure.next_follow_up_at = None
        return None
    due = start + delay
    _add_step(
        case,
        measure,
        FOLLOW_UP,
        follow_up_title(body, measure.reference or "", measure.status),
        due,
    )
    measure.next_follow_up_at = due
    return due


def follow_up_done(
    case: Case, row: ChecklistStep, now: datetime, cadence: MeasureFollowUps
) -> None:
    """After a follow-up step is done or skipped, plan the next while the measure is in force."""
    if row.key != FOLLOW_UP or row.measure_id is None:
        return
    measure = next((m for m in case.measures if m.id == row.measure_id), None)
    if measure is not None and measure.status in ACTIVE_STATES:
        plan_follow_up(case, measure, measure_body(measure.body), now, cadence)


def _measure(session: Session, case: Case, body: MeasureBody, reference: str) -> Measure:
    for measure in case.measures:
        if measure.body == body.key and measure.reference == reference:
            return measure
    measure = Measure(body=body.key, kind=body.kind, reference=reference, status="requested")
    case.measures.append(measure)
    session.flush()
    return measure


def _set_state(measure: Measure, state: str, on: date, now: datetime) -> None:
    measure.status, measure.decided_on, measure.updated_at = state, on, now
    if state == "requested":
        measure.requested_on = on
    elif state == "granted":
        measure.granted_on = on


def _supersede(case: Case, measure: Measure, state: str) -> None:
    """A new state replaces pending follow-ups; once the measure ends, its review too."""
    ended = state not in ACTIVE_STATES
    for row in case.steps:
        pending = row.measure_id == measure.id and row.status == StepStatus.OPEN
        if pending and (row.key == FOLLOW_UP or ended):
            row.status, row.note, row.next_reminder_at = (
                StepStatus.SKIPPED.value,
                f"superseded: {state}",
                None,
            )


def _set_review(case: Case, measure: Measure, title: str, due: datetime) -> None:
    """One review step per measure: a new review date moves it."""
    for row in case.steps:
        if row.measure_id == measure.id and row.key == REVIEW and row.status == StepStatus.OPEN:
            row.due_at = row.next_reminder_at = due
            return
    _add_step(case, measure, REVIEW, title, due)


def _add_step(case: Case, measure: Measure, key: str, title: str, due: datetime) -> None:
    number = max((s.n for s in case.steps), default=0) + 1
    case.steps.append(
        ChecklistStep(
            n=number,
            key=key,
            title=title,
            owner_role="legal",
            status="open",
            due_at=due,
            next_reminder_at=due,
            measure_id=measure.id,
            reminders_sent=0,
        )
    )


def _local(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z")
