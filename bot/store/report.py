"""What a report counts, in a few grouped queries whatever the number of cases: counts come
back grouped by the database, times as hours computed by it, so no case is loaded as an object
and nothing sealed (names, summaries, notes) is read at all."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Text, and_, case, cast, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.domain.report import ALL, Hours, MeasureTally, ReportData, Scope, TargetTally
from bot.store.models import Case, CaseThreat, Measure, Target

GRANTED_STATES = ("granted", "extended", "lifted")
OPEN = "open"


class utc_day(FunctionElement[Any]):
    """The UTC calendar day of a timestamp: a date on PostgreSQL, `YYYY-MM-DD` on SQLite."""

    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"  # stored as naive UTC text


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CAST(({column}) AT TIME ZONE 'UTC' AS date)"


class hours_between(FunctionElement[float]):
    """Hours from the second timestamp to the first (NULL when either is), on either database."""

    type = Float()
    inherit_cache = True


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_postgresql(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({later}) - ({earlier})) / 3600.0)"


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """The cases a report counts: opened from `since` to `until` inclusive (UTC days)."""
    start = datetime.combine(scope.since, time(0), tzinfo=UTC)
    end = datetime.combine(scope.until + timedelta(days=1), time(0), tzinfo=UTC)
    condition = and_(Case.created_at >= start, Case.created_at < end)
    if scope.country:
        condition = and_(condition, Case.country == scope.country)
    return condition


def gather_report(session: Session, scope: Scope) -> ReportData:
    """Count everything a report publishes for the cases in scope."""
    where = in_scope(scope)
    by = _case_dimensions(session, where)
    by["threat"] = {
        threat: int(n)
        for threat, n in session.connection().execute(
            select(CaseThreat.threat, func.count())
            .join(Case, Case.id == CaseThreat.case_id)
            .where(where)
            .group_by(CaseThreat.threat)
        )
    }
    first_action, to_close = _timings(session, where)
    outcomes = by["outcome"]
    return ReportData(
        scope=scope,
        cases=sum(outcomes.values()),
        closed=sum(n for outcome, n in outcomes.items() if outcome != OPEN),
        by=by,
        per_day=_per_day(session, where),
        first_action_hours=first_action,
        close_hours=to_close,
        targets=_targets(session, where),
        measures=_measures(session, where),
    )


def _case_dimensions(session: Session, where: ColumnElement[bool]) -> dict[str, dict[str, int]]:
    """Cases by country, severity, outcome (`open` while open), profile and perpetrator, from
    one grouped pass: the lists of profiles and perpetrators group by their text, which takes
    few distinct values, and are spread over their items here."""
    outcome = case((Case.status == OPEN, OPEN), else_=func.coalesce(Case.outcome, "other"))
    profiles, perpetrators = cast(Case.profiles, Text), cast(Case.perpetrators, Text)
    columns = (Case.country, Case.severity, outcome, profiles, perpetrators)
    counts: dict[str, dict[str, int]] = {
        name: defaultdict(int)
        for name in ("country", "severity", "outcome", "profile", "perpetrator")
    }
    rows = session.connection().execute(
        select(*columns, func.count()).where(where).group_by(*columns)
    )
    for country, severity, ended, profile_list, perpetrator_list, n in rows:
        counts["country"][country] += n
        counts["severity"][severity] += n
        counts["outcome"][ended] += n
        for item in _items(profile_list):
            counts["profile"][item] += n
        for item in _items(perpetrator_list):
            counts["perpetrator"][item] += n
    return {name: dict(values) for name, values in counts.items()}


def _items(raw: str | None) -> set[str]:
    """The distinct items of a JSON list stored as text."""
    return {str(item) for item in json.loads(raw)} if raw else set()


def _per_day(session: Session, where: ColumnElement[bool]) -> dict[tuple[date, str], int]:
    day = utc_day(Case.created_at)
    connection = session.connection()
    found: dict[tuple[date, str], int] = {}
    for opened, n in connection.execute(select(day, func.count()).where(where).group_by(day)):
        found[(_day(opened), ALL)] = int(n)
    rows = connection.execute(
        select(day, CaseThreat.threat, func.count())
        .join(CaseThreat, CaseThreat.case_id == Case.id)
        .where(where)
        .group_by(day, CaseThreat.threat)
    )
    for opened, threat, n in rows:
        found[(_day(opened), threat)] = int(n)
    return found


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def tenths(hours: ColumnElement[float]) -> ColumnElement[float]:
    """Hours to the nearest tenth (6 minutes), as tallies group them."""
    return func.round(hours * 10)


def _tallied(
    rows: Iterable[tuple[Any, ...]],
) -> dict[tuple[Any, ...], dict[float, int]]:
    """Rows of (…group, tenths of hours, count) as tallies of hours by group; a negative time
    (a clock set wrong) counts as none."""
    tallies: dict[tuple[Any, ...], dict[float, int]] = defaultdict(dict)
    for *group, tenth, n in rows:
        hours = max(float(tenth), 0.0) / 10
        tally = tallies[tuple(group)]
        tally[hours] = tally.get(hours, 0) + int(n)
    return tallies


def _timings(
    session: Session, where: ColumnElement[bool]
) -> tuple[dict[str, Hours], dict[str, Hours]]:
    """Tallies by severity of the hours to the first action and to the close."""
    connection = session.connection()
    found: list[dict[str, Hours]] = []
    for until, only in (
        (Case.first_action_at, Case.first_action_at.is_not(None)),
        (Case.closed_at, and_(Case.status == "closed", Case.closed_at.is_not(None))),
    ):
        tenth = tenths(hours_between(until, Case.created_at))
        rows = connection.execute(
            select(Case.severity, tenth, func.count())
            .where(where, only)
            .group_by(Case.severity, tenth)
        )
        found.append({severity: tally for (severity,), tally in _tallied(rows).items()})
    return found[0], found[1]


def _targets(session: Session, where: ColumnElement[bool]) -> list[TargetTally]:
    key = func.coalesce(func.nullif(Target.institution, ""), Target.name)
    connection = session.connection()
    counted = connection.execute(
        select(
            Target.category,
            key,
            func.min(Target.name),
            func.count(),
            func.count(Target.contacted_at),
            func.count(Target.replied_at),
        )
        .join(Case, Case.id == Target.case_id)
        .where(where)
        .group_by(Target.category, key)
    ).all()
    waited = tenths(
        hours_between(Target.replied_at, func.coalesce(Target.contacted_at, Case.created_at))
    )
    replies = _tallied(
        connection.execute(
            select(Target.category, key, waited, func.count())
            .join(Case, Case.id == Target.case_id)
            .where(where, Target.replied_at.is_not(None))
            .group_by(Target.category, key, waited)
        )
    )
    return [
        TargetTally(
            category=category,
            institution=institution,
            name=_institution_name(institution, name),
            proposed=int(proposed),
            contacted=int(contacted),
            answered=int(answered),
            reply_hours=replies.get((category, institution), {}),
        )
        for category, institution, name, proposed, contacted, answered in counted
    ]


def _institution_name(institution: str, name: str) -> str:
    """A name for the institution across cases: an embassy's target names the host country
    too ("Embassy of Canada in Honduras"), which differs between cases; its key does not."""
    if institution.startswith("embassy:") and " in " in name:
        return name.rsplit(" in ", 1)[0]
    return name


def _measures(session: Session, where: ColumnElement[bool]) -> list[MeasureTally]:
    def counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    granted = or_(Measure.granted_on.is_not(None), Measure.status.in_(GRANTED_STATES))
    rows = session.connection().execute(
        select(
            Measure.body,
            func.count(),
            counted(granted),
            counted(Measure.status == "lifted"),
            counted(Measure.status == "rejected"),
        )
        .join(Case, Case.id == Measure.case_id)
        .where(where)
        .group_by(Measure.body)
    )
    return [
        MeasureTally(body=body, requested=int(n), granted=int(g), lifted=int(lf), rejected=int(r))
        for body, n, g, lf, r in rows
    ]
