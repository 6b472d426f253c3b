"""The daily digest of a team: what is new, late, due today, waiting on follow-up or on an owner."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from bot.domain.messages import Bullets, Heading, Message, Paragraph


@dataclass(frozen=True, slots=True)
class DigestStep:
    """A step as the digest lists it."""

    code: str
    n: int
    title: str
    owner: str
    due_at: datetime


@dataclass(frozen=True)
class DigestInput:
    """Everything a digest reports, gathered for one destination's day."""

    day: date
    tz: tzinfo
    new_cases: list[tuple[str, str, str]] = field(default_factory=list)
    overdue: list[DigestStep] = field(default_factory=list)
    due_today: list[DigestStep] = field(default_factory=list)
    measures_due: list[DigestStep] = field(default_factory=list)
    unowned_cases: list[str] = field(default_factory=list)
    stale_contacts: list[str] = field(default_factory=list)
    #: Places with messages Tocsin gave up on: (place, how many, the last error).
    undelivered: list[tuple[str, int, str]] = field(default_factory=list)


def digest_message(data: DigestInput) -> Message:
    """The digest; an empty day in one line."""
    title = f"Daily digest, {data.day.strftime('%a %d %b %Y')}"
    sections = [
        (
            "New cases in the last 24 hours",
            [f"{c} {country} ({sev})" for c, country, sev in data.new_cases],
        ),
        *_overdue_by_owner(data),
        ("Due today", [_step_line(s, data.tz) for s in data.due_today]),
        ("Measures due for follow-up", [_step_line(s, data.tz) for s in data.measures_due]),
        ("Open cases nobody has taken a step of", data.unowned_cases),
        ("Contacts open cases rely on, not verified for 180 days", data.stale_contacts),
        (
            "Messages Tocsin could not deliver (an admin: tocsin outbox --failed, then "
            "tocsin outbox --retry all once the cause is fixed)",
            [f"{place}: {count} — {error}" for place, count, error in data.undelivered],
        ),
    ]
    filled = [(heading, items) for heading, items in sections if items]
    if not filled:
        text = f"{title}: nothing new, nothing overdue or due today."
        return Message(fallback=text, blocks=(Paragraph(text),))
    blocks: list[Heading | Bullets] = [Heading(title)]
    for heading, items in filled:
        blocks += [Heading(f"{heading} ({len(items)})"), Bullets(tuple(items))]
    return Message(fallback=title, blocks=tuple(blocks))


def _overdue_by_owner(data: DigestInput) -> list[tuple[str, list[str]]]:
    owners = sorted({s.owner for s in data.overdue})
    return [
        (f"Overdue, {owner}", [_step_line(s, data.tz) for s in data.overdue if s.owner == owner])
        for owner in owners
    ]


def _step_line(step: DigestStep, tz: tzinfo) -> str:
    due = step.due_at.astimezone(tz).strftime("%a %d %b %H:%M")
    return f"{step.code} step {step.n}: {step.title} — {step.owner}, due {due}"
