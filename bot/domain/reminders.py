"""Reminders and escalations of overdue steps: who is told what, and when to ask again."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from enum import StrEnum

from bot.domain.messages import Message, Note, Paragraph
from bot.domain.playbook import ReminderPolicy
from bot.domain.vocabulary import Severity

LATE_NOTE = " [late: this fell due while Tocsin was offline]"


def marked_late(message: Message) -> Message:
    """A scheduled message that fell due while Tocsin was offline, saying so at its end."""
    return replace(
        message,
        fallback=message.fallback + LATE_NOTE,
        blocks=(*message.blocks, Note(LATE_NOTE.strip())),
    )


class ReminderKind(StrEnum):
    """Who a reminder is addressed to, as the step stays overdue."""

    OWNER = "reminder"
    CASE_LEAD = "escalation_lead"
    TEAM_LEAD = "escalation_team"


@dataclass(frozen=True, slots=True)
class OverdueStep:
    """A step whose reminder time has come, with what the message needs."""

    code: str
    n: int
    title: str
    owner: str
    lead: str
    severity: Severity
    due_at: datetime
    planned_at: datetime
    reminders_sent: int


def kind_of(reminders_sent: int, policy: ReminderPolicy) -> ReminderKind:
    """Owner first; after `escalate_after` reminders the case lead; after as many more, the team."""
    if reminders_sent < policy.escalate_after:
        return ReminderKind.OWNER
    if reminders_sent < 2 * policy.escalate_after:
        return ReminderKind.CASE_LEAD
    return ReminderKind.TEAM_LEAD


def next_reminder(now: datetime, severity: Severity, policy: ReminderPolicy) -> datetime:
    """When to remind again if the step is still not done: counted from now, so a catch-up
    after downtime fires once rather than once per missed interval."""
    return now + policy.repeat.for_severity(severity)


def reminder_message(
    step: OverdueStep, kind: ReminderKind, tz: tzinfo, *, late: bool = False
) -> Message:
    """The text posted for one reminder or escalation; `late` when it fell due while offline."""
    due = step.due_at.astimezone(tz).strftime("%a %d %b %H:%M %Z")
    what = f"step {step.n} of {step.code} ({step.title}) was due {due}"
    suffix = LATE_NOTE if late else ""
    if kind is ReminderKind.OWNER:
        text = (
            f"Reminder for {step.owner}: {what}.{suffix} Mark it with: ua done {step.code} {step.n}"
        )
    elif kind is ReminderKind.CASE_LEAD:
        text = (
            f"Escalation to the case lead {step.lead}: {what} and is still open after "
            f"{_reminders(step.reminders_sent)} to {step.owner}.{suffix}"
        )
    else:
        text = (
            f"Escalation to the team lead: {what} and is still open after "
            f"{_reminders(step.reminders_sent)} ({step.severity.value} case).{suffix}"
        )
    addressed = {ReminderKind.OWNER: step.owner, ReminderKind.CASE_LEAD: step.lead}.get(kind)
    return Message(
        fallback=text,
        blocks=(Paragraph(text),),
        thread=f"checklist:{step.code}",
        about=step_key(step.code, step.n),
        mentions=(addressed,) if addressed else (),
    )


def step_key(code: str, n: int) -> str:
    """The key naming one step of a case in messages about it."""
    return f"step:{code}:{n}"


def parse_step_key(key: str) -> tuple[str, int] | None:
    """The case code and step number of a step key, or None for any other key."""
    kind, _, rest = key.partition(":")
    code, _, n = rest.rpartition(":")
    if kind != "step" or not code or not n.isdigit():
        return None
    return code, int(n)


def _reminders(count: int) -> str:
    return "1 reminder" if count == 1 else f"{count} reminders"
