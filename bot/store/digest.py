"""What the daily digest reads: the first lines of each section and how many there are in all.

A few set-based queries, whatever the size of the case load: no query loads every open case or
step, and a section reads no more rows than the digest shows (a window function counts the rest).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, String, case, func, literal, literal_column, select
from sqlalchemy.orm import Session

from bot.domain.digest import DigestStep
from bot.store.models import Case, ChecklistStep, Target

T = TypeVar("T")
OVERDUE = "overdue:"
OPEN: ColumnElement[str] = literal_column("'open'", String)
# Joins a case's institutions in one value: institution ids never hold a line break.
SEPARATOR = "\n"


@dataclass(frozen=True, slots=True)
class Listed(Generic[T]):
    """The first items of a section, and how many it holds in all."""

    first: list[T]
    total: int


def new_cases(*, session: Session, since: datetime, limit: int) -> Listed[tuple[str, str, str]]:
    """Cases opened since then, first opened first: (code, country code, severity)."""
    rows = session.execute(
        select(Case.code, Case.country, Case.severity, func.count().over())
        .where(Case.created_at >= since)
        .order_by(Case.id)
        .limit(limit)
    ).all()
    return Listed([(code, country, severity) for code, country, severity, _ in rows], _total(rows))


def due_steps_by_section(
    *, session: Session, now: datetime, end_of_day: datetime, limit: int
) -> dict[str, Listed[DigestStep]]:
    """Open steps of open cases due before the end of the day, in the digest's sections:
    `overdue:OWNER` (past due, by the assignee or else the role), `due_today` (from now to the
    end of the day) and `measures_due` (a measure's follow-up, past due or due today). Each
    section: its first `limit` steps, longest due first, and how many it holds.

    One pass over the ids of those steps sorts them into sections and counts them; only the
    steps shown are then read in full.
    """
    owner = func.coalesce(func.nullif(ChecklistStep.assignee, ""), ChecklistStep.owner_role)
    section = case(
        (ChecklistStep.measure_id.is_not(None), literal("measures_due")),
        (ChecklistStep.due_at < now, literal(OVERDUE) + owner),
        else_=literal("due_today"),
    )
    order = (ChecklistStep.due_at, ChecklistStep.case_id, ChecklistStep.n)
    due = session.connection().execute(
        # From the open cases to their open steps: a step may stay open when its case closes,
        # so open steps are many more than those of open cases. The status as a literal, so
        # the planner may use the partial index of open steps, which holds all that is read.
        select(section, ChecklistStep.id)
        .join(Case, Case.id == ChecklistStep.case_id)
        .where(Case.status == "open", ChecklistStep.status == OPEN)
        .where(ChecklistStep.due_at < end_of_day)
        .order_by(*order)
    )
    totals: dict[str, int] = {}
    shown: dict[int, str] = {}
    for key, step_id in due:
        totals[key] = totals.get(key, 0) + 1
        if totals[key] <= limit:
            shown[step_id] = key
    sections: dict[str, Listed[DigestStep]] = {k: Listed([], n) for k, n in totals.items()}
    if not shown:
        return sections
    rows = session.execute(
        select(ChecklistStep.id, Case.code, ChecklistStep.n, ChecklistStep.title, owner)
        .add_columns(ChecklistStep.due_at)
        .join(Case, Case.id == ChecklistStep.case_id)
        .where(ChecklistStep.id.in_(shown))
        .order_by(*order)
    )
    for step_id, code, n, title, who, due_at in rows:
        step = DigestStep(code=code, n=n, title=title, owner=who, due_at=due_at)
        sections[shown[step_id]].first.append(step)
    return sections


class OpenCase(NamedTuple):
    """An open case as the digest's case sections need it."""

    code: str
    country: str
    #: Whether any step of it has an assignee.
    owned: bool
    #: The institutions its targets engage (`embassy:CA`, `oecd_ncp:HN`, `iachr` …), if asked.
    engages: list[str]


def open_cases(*, session: Session, with_institutions: bool) -> Iterator[OpenCase]:
    """Every open case, first opened first, in one pass: for each, one probe of an index of its
    steps for an assignee and, if asked, one of an index of its targets' institutions."""
    assigned = (
        select(ChecklistStep.id)
        .where(
            ChecklistStep.case_id == Case.id,
            ChecklistStep.assignee.is_not(None),
            ChecklistStep.assignee != "",
        )
        .exists()
    )
    engaged = (
        select(func.aggregate_strings(Target.institution, SEPARATOR))
        .where(Target.case_id == Case.id)
        .scalar_subquery()
        if with_institutions
        else literal(None, String)
    )
    rows = session.connection().execute(  # plain rows: no ORM work for each
        select(Case.code, Case.country, assigned, engaged)
        .where(Case.status == "open")
        .order_by(Case.created_at, Case.id)
    )
    for code, country, owned, engages in rows:
        yield OpenCase(code, country, bool(owned), engages.split(SEPARATOR) if engages else [])


def _total(rows: Collection[tuple[object, ...]]) -> int:
    """The window count each row carries in its last column (0 when there are no rows)."""
    for row in rows:
        return int(str(row[-1]))
    return 0
