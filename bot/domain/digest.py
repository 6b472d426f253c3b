"""The daily digest of a team: what is new, late, due today, waiting on follow-up or on an owner."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from bot.domain.messages import Bullets, Heading, Message, Paragraph

#: The lines a section shows; the rest are counted ("… and 12 more"), so that every section fits
#: a chat message (Slack keeps 50 blocks of 3,000 characters, Matrix 10,000 characters).
SHOWN = 10


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
    #: How many a section holds in all, when its list holds only the first ones (the store
    #: reads no more than are shown): by field name, and `overdue:OWNER` for each owner.
    totals: dict[str, int] = field(default_factory=dict)


def digest_message(data: DigestInput) -> Message:
    """The digest; an empty day in one line. Each section shows its first SHOWN lines and
    counts the rest."""
    title = f"Daily digest, {data.day.strftime('%a %d %b %Y')}"
    sections = [
        (
            "New cases in the last 24 hours",
            "new_cases",
            [f"{c} {country} ({sev})" for c, country, sev in data.new_cases[:SHOWN]],
            len(data.new_cases),
        ),
        *_overdue_by_owner(data),
        ("Due today", "due_today", _step_lines(data.due_today, data.tz), len(data.due_today)),
        (
            "Measures due for follow-up",
            "measures_due",
            _step_lines(data.measures_due, data.tz),
            len(data.measures_due),
        ),
        (
            "Open cases nobody has taken a step of",
            "unowned_cases",
            data.unowned_cases[:SHOWN],
            len(data.unowned_cases),
        ),
        (
            "Contacts open cases rely on, not verified for 180 days",
            "stale_contacts",
            data.stale_contacts[:SHOWN],
            len(data.stale_contacts),
        ),
        (
            "Messages Tocsin could not deliver (an admin: tocsin outbox --failed, then "
            "tocsin outbox --retry all once the cause is fixed)",
            "undelivered",
            [f"{place}: {count} — {error}" for place, count, error in data.undelivered[:SHOWN]],
            len(data.undelivered),
        ),
    ]
    blocks: list[Heading | Bullets] = [Heading(title)]
    for heading, key, lines, listed in sections:
        total = max(data.totals.get(key, 0), listed)
        if not total:
            continue
        more = total - len(lines)
        items = (*lines, f"… and {more:,} more") if more > 0 else tuple(lines)
        blocks += [Heading(f"{heading} ({total})"), Bullets(items)]
    if len(blocks) == 1:
        text = f"{title}: nothing new, nothing overdue or due today."
        return Message(fallback=text, blocks=(Paragraph(text),))
    return Message(fallback=title, blocks=tuple(blocks))


def _overdue_by_owner(data: DigestInput) -> list[tuple[str, str, list[str], int]]:
    owners = sorted({s.owner for s in data.overdue})
    sections = []
    for owner in owners:
        steps = [s for s in data.overdue if s.owner == owner]
        key = f"overdue:{owner}"
        sections.append((f"Overdue, {owner}", key, _step_lines(steps, data.tz), len(steps)))
    return sections


def _step_lines(steps: list[DigestStep], tz: tzinfo) -> list[str]:
    return [_step_line(s, tz) for s in steps[:SHOWN]]


def _step_line(step: DigestStep, tz: tzinfo) -> str:
    due = step.due_at.astimezone(tz).strftime("%a %d %b %H:%M")
    return f"{step.code} step {step.n}: {step.title} — {step.owner}, due {due}"
