"""Changing stored cases: lock one, map its rows to pure states and back, and audit every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.lifecycle import CaseState, StepState, StepStatus
from bot.domain.places import Place
from bot.store.acting import acting_device
from bot.store.cases import get_case
from bot.store.models import AuditEvent, Case, ChecklistStep


def lock_case(*, session: Session, code: str) -> Case | None:
    """The case with everything a change touches, locked until the transaction ends."""
    return get_case(session=session, code=code, for_update=True)


def step_state(row: ChecklistStep) -> StepState:
    """The pure state of a stored step."""
    return StepState(
        n=row.n,
        status=StepStatus(row.status),
        assignee=row.assignee,
        due_at=row.due_at,
        gated_by=row.gated_by,
        note=row.note,
        completed_at=row.completed_at,
        next_reminder_at=row.next_reminder_at,
        reminders_sent=row.reminders_sent,
    )


def store_step(row: ChecklistStep, state: StepState) -> None:
    """Write a step's new state onto its row."""
    row.status = state.status.value
    row.assignee = state.assignee
    row.due_at = state.due_at
    row.note = state.note
    row.completed_at = state.completed_at
    row.next_reminder_at = state.next_reminder_at
    row.reminders_sent = state.reminders_sent


def case_state(case: Case) -> CaseState:
    """The pure state of a stored case."""
    return CaseState(
        code=case.code, status=case.status, outcome=case.outcome, closed_at=case.closed_at
    )


def store_case(case: Case, state: CaseState) -> None:
    """Write a case's new state onto its row."""
    case.status = state.status
    case.outcome = state.outcome
    case.closed_at = state.closed_at


def consents_of(case: Case) -> dict[str, bool]:
    """What the defender agreed to, use by use."""
    return {
        "government": case.consent_government,
        "un_public": case.consent_un_public,
        "media": case.consent_media,
    }


def set_consents(case: Case, consents: dict[str, bool]) -> None:
    """Record consents on the case."""
    case.consent_government = consents["government"]
    case.consent_un_public = consents["un_public"]
    case.consent_media = consents["media"]


def record(
    *,
    session: Session,
    case: Case | None,
    actor: str,
    place: Place,
    action: str,
    now: datetime,
    detail: dict[str, Any],
    changes_case: bool = True,
) -> None:
    """Append an audit event (about a case, or about a place when `case` is None) and, unless
    it records a mere read, mark the case as changed."""
    if case is not None and changes_case:
        case.updated_at = now
    device, trust = acting_device()
    session.add(
        AuditEvent(
            case_id=case.id if case is not None else None,
            at=now,
            actor=actor,
            action=action,
            destination=str(place),
            detail=detail,
            device=device,
            device_trust=trust,
        )
    )


def audit_trail(*, session: Session, case: Case) -> list[AuditEvent]:
    """Every event of the case, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list(session.scalars(query))
