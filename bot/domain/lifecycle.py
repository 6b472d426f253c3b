"""How cases and their steps may change: pure transitions that refuse what makes no sense."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class StepStatus(StrEnum):
    """Where a checklist step stands."""

    OPEN = "open"
    BLOCKED = "blocked"
    DONE = "done"
    SKIPPED = "skipped"


class Outcome(StrEnum):
    """How a case ended."""

    RELEASED = "released"
    CHARGES_DROPPED = "charges_dropped"
    RELOCATED = "relocated"
    PROTECTED = "protected"
    KILLED = "killed"
    ONGOING_RISK = "ongoing_risk"
    OTHER = "other"


MAX_PERSON = 100


class TransitionError(ValueError):
    """The change is not allowed now; the message says why and what to do instead."""


@dataclass(frozen=True, slots=True)
class StepState:
    """The changeable part of a step."""

    n: int
    status: StepStatus
    assignee: str | None
    due_at: datetime
    gated_by: str | None
    note: str | None = None
    completed_at: datetime | None = None
    next_reminder_at: datetime | None = None
    reminders_sent: int = 0


@dataclass(frozen=True, slots=True)
class CaseState:
    """The changeable part of a case."""

    code: str
    status: str
    outcome: str | None
    closed_at: datetime | None = None


def ensure_open(case: CaseState) -> None:
    """Refuse any change to a closed case."""
    if case.status == "closed":
        raise TransitionError(
            f"{case.code} is closed ({(case.outcome or 'other').replace('_', ' ')}); "
            f"reopen it first with: ua reopen {case.code}"
        )


def _ensure_pending(step: StepState, verb: str) -> None:
    if step.status is StepStatus.DONE:
        raise TransitionError(f"Step {step.n} is already done; nothing to {verb}.")
    if step.status is StepStatus.SKIPPED:
        raise TransitionError(f"Step {step.n} was skipped; nothing to {verb}.")


def claim(step: StepState, actor: str) -> StepState:
    """The actor takes the step."""
    _ensure_pending(step, "claim")
    if step.assignee == actor:
        raise TransitionError(f"Step {step.n} is already yours.")
    return replace(step, assignee=actor, reminders_sent=0)


def assign(step: StepState, person: str) -> StepState:
    """Give the step to someone."""
    _ensure_pending(step, "assign")
    person = person.strip()
    if not person or len(person.split()) != 1 or len(person) > MAX_PERSON:
        raise TransitionError("Name one person: ua assign CODE N @person")
    if step.assignee == person:
        raise TransitionError(f"Step {step.n} is already {person}'s.")
    return replace(step, assignee=person, reminders_sent=0)


def complete(
    step: StepState, note: str | None, now: datetime, code: str, actor: str | None = None
) -> StepState:
    """Mark the step done, owned by whoever did it if nobody had it; not while consent lacks."""
    _ensure_pending(step, "mark done")
    if step.status is StepStatus.BLOCKED and step.gated_by:
        use = step.gated_by.removeprefix("consent.")
        raise TransitionError(
            f"Step {step.n} waits for the defender's consent ({use}). Once they agree, record "
            f"it with: ua consent {code} {use}=yes"
        )
    return replace(
        step,
        status=StepStatus.DONE,
        assignee=step.assignee or actor,
        note=note or step.note,
        completed_at=now,
        next_reminder_at=None,
    )


def skip(step: StepState, reason: str, now: datetime) -> StepState:
    """Skip the step; a reason is required, for the record."""
    _ensure_pending(step, "skip")
    if not reason.strip():
        raise TransitionError(f"Say why step {step.n} is skipped: ua skip CODE {step.n} reason")
    return replace(
        step,
        status=StepStatus.SKIPPED,
        note=reason.strip(),
        completed_at=now,
        next_reminder_at=None,
    )


def snooze(step: StepState, delay: timedelta, now: datetime) -> StepState:
    """Push the due time back by `delay`, counted from now if the step is already overdue;
    reminders stay quiet until then and start again from the first."""
    _ensure_pending(step, "snooze")
    due = max(step.due_at, now) + delay
    quiet_until = due if step.status is StepStatus.OPEN else None
    return replace(step, due_at=due, next_reminder_at=quiet_until, reminders_sent=0)


def apply_consent(step: StepState, consents: dict[str, bool]) -> StepState:
    """Open a blocked step whose consent was given; block an open one if consent is withdrawn."""
    if step.gated_by is None or step.status in (StepStatus.DONE, StepStatus.SKIPPED):
        return step
    given = consents.get(step.gated_by.removeprefix("consent."), False)
    if given == (step.status is StepStatus.OPEN):
        return step
    if given:
        return replace(step, status=StepStatus.OPEN, next_reminder_at=step.due_at)
    return replace(step, status=StepStatus.BLOCKED, next_reminder_at=None)


def silence(step: StepState) -> StepState:
    """No more reminders for this step (its case closed)."""
    return replace(step, next_reminder_at=None)


def wake(step: StepState) -> StepState:
    """Remind an open step again from its due time (its case reopened)."""
    if step.status is not StepStatus.OPEN:
        return step
    return replace(step, next_reminder_at=step.due_at, reminders_sent=0)


def close(case: CaseState, outcome: str, now: datetime) -> CaseState:
    """Close the case with one of the known outcomes."""
    ensure_open(case)
    accepted = [o.value for o in Outcome]
    if outcome not in accepted:
        raise TransitionError(f"'{outcome}' is not an outcome; accepted: {', '.join(accepted)}")
    return replace(case, status="closed", outcome=outcome, closed_at=now)


def reopen(case: CaseState) -> CaseState:
    """Open a closed case again (the risk came back, or it was closed by mistake)."""
    if case.status != "closed":
        raise TransitionError(f"{case.code} is not closed.")
    return replace(case, status="open", outcome=None, closed_at=None)
