"""Working a case's checklist: claim, assign, done, skip, snooze; every change audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain import lifecycle
from bot.domain.case import Disclosure
from bot.domain.commands.forms import StepChange
from bot.domain.commands.request import Command
from bot.domain.lifecycle import StepState, TransitionError
from bot.domain.messages import Message
from bot.domain.playbook import TARGET_SEPARATOR
from bot.store.changes import lock_case, record, step_state, store_step
from bot.store.models import Case, ChecklistStep
from handlers.context import Services
from handlers.loading import card_reply, open_case_for_change
from handlers.measures import follow_up_done
from handlers.registry import handles


@handles(StepChange)
def change_step(change: StepChange, request: Command, services: Services) -> Message:
    """Apply one step command and answer with the updated checklist."""
    actor, place = request.actor, request.place
    now = services.clock()
    with services.transaction() as session:
        case = open_case_for_change(lock_case(session=session, code=change.code), change.code)
        row = _step(case, change.n)
        before = step_state(row)
        after = _transition(change, actor, now, case.code)(before)
        store_step(row, after)
        if change.action in ("done", "skip"):
            follow_up_done(case, row, now, services.playbook.measures)
        if change.action == "done":
            acted(case, row, now)
        record(
            session=session,
            case=case,
            actor=actor,
            place=place,
            action=f"step_{change.action}",
            now=now,
            detail=_detail(change, before, after),
        )
        notes_shown = services.disclosure_for(session, place) is not Disclosure.MINIMAL
        headline = _confirmation(change, after, notes_shown=notes_shown)
        return card_reply(session, services, case, place, headline)


def acted(case: Case, row: ChecklistStep, now: datetime) -> None:
    """A step done: the case's first action if it had none, and the targets the step names
    contacted (reports count both)."""
    if case.first_action_at is None:
        case.first_action_at = now
    named = set((row.target_name or "").split(TARGET_SEPARATOR))
    for target in case.targets:
        if target.name in named and target.contacted_at is None:
            target.contacted_at = now
            if target.status == "pending":
                target.status = "contacted"


def _step(case: Case, n: int) -> ChecklistStep:
    for row in case.steps:
        if row.n == n:
            return row
    raise TransitionError(f"{case.code} has no step {n}; its steps are 1 to {len(case.steps)}.")


def _transition(
    change: StepChange, actor: str, now: datetime, code: str
) -> Callable[[StepState], StepState]:
    match change.action:
        case "claim":
            return lambda s: lifecycle.claim(s, actor)
        case "assign":
            return lambda s: lifecycle.assign(s, change.text)
        case "done":
            return lambda s: lifecycle.complete(s, change.text or None, now, code, actor)
        case "skip":
            return lambda s: lifecycle.skip(s, change.text, now)
        case "snooze":
            assert change.delay is not None
            delay = change.delay
            return lambda s: lifecycle.snooze(s, delay, now)
    raise AssertionError(f"unknown step action {change.action}")


def _detail(change: StepChange, before: StepState, after: StepState) -> dict[str, object]:
    detail: dict[str, object] = {"n": change.n}
    if before.status != after.status:
        detail["status"] = [before.status.value, after.status.value]
    if before.assignee != after.assignee:
        detail["assignee"] = after.assignee
    if before.due_at != after.due_at:
        detail["due_at"] = after.due_at.isoformat()
    if change.text and change.action in ("done", "skip"):
        detail["note"] = change.text
    return detail


def _confirmation(change: StepChange, after: StepState, *, notes_shown: bool) -> str:
    match change.action:
        case "claim" | "assign":
            return f"Step {change.n} is {after.assignee}'s."
        case "done":
            return f"Step {change.n} done."
        case "skip":
            return (
                f"Step {change.n} skipped: {after.note}."
                if notes_shown
                else (f"Step {change.n} skipped.")
            )
    return f"Step {change.n} snoozed."
