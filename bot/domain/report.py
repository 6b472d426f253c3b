"""Patterns of reprisals: counts of cases, response times, targets engaged and measures.

Plain data in (what the store counted for a scope), plain data out: a `Report` of rows in one
long table (section, key, label, measure, value) that the chat message, the charts and the
CSV/JSON exports all read. Anonymous by construction, so that no defender can be picked out:

- only counts and times leave here, for whole months or weeks (`whole_periods`), so two
  reports never differ by a single day;
- a count of 1 or 2 is shown as "<3" and every other count is rounded to the nearest 5 (0
  stays 0): totals are approximate, and a total minus the rest leaves a range, not a number;
- where the published cells of a sum (a breakdown and its total, within or across sections)
  would still leave a "<3" only one possible value, that breakdown is left out (`withheld`);
- a median needs 3 cases and a 90th percentile 10.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.domain.measures import BODIES

SMALL_CELL = 3
SUPPRESSED = "<3"
# Every count of SMALL_CELL or more is published rounded to the nearest multiple of this.
ROUNDING = 5
MEDIAN_CASES = SMALL_CELL
P90_CASES = 10
ALL = "all"
OPEN = "open"
# The dates a report may be asked for: nothing was recorded before, nothing can be far after.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_AHEAD = timedelta(days=365)
# Narrowing what sums tell stops after this many passes (it settles in a few).
MAX_PASSES = 100

Value = int | float | str
# Hours (to a tenth, 6 minutes) → how many cases took that long: the database tallies times,
# so a report over 100,000 cases reads a few thousand rows, not a row per case.
Hours = Mapping[float, int]
# A published cell: (section, key, measure).
Cell = tuple[str, str, str]

DIMENSIONS = ("country", "threat", "profile", "perpetrator", "severity", "outcome")
# The breakdowns whose cells each case falls in exactly once: their cells add up to the total.
PARTITIONS = ("by_country", "by_severity", "by_outcome")
SEVERITY_ORDER = ("critical", "high", "medium")
TIME_SECTIONS = ("time_to_first_action", "time_to_close")
TARGET_COUNTS = ("proposed", "contacted", "answered")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which cases a report counts: opened from `since` to `until` (inclusive, UTC dates), in
    one country or all; `period` is the length of the chart's buckets."""

    since: date
    until: date
    country: str | None = None
    period: str = "month"  # or "week"

    def describe(self, country_name: str | None = None) -> str:
        """`2026-01-01 to 2026-11-28, Honduras`."""
        where = f", {country_name or self.country}" if self.country else ""
        return f"{self.since.isoformat()} to {self.until.isoformat()}{where}"


@dataclass(frozen=True, slots=True)
class TargetTally:
    """One institution across the cases in scope: on how many it was proposed, contacted and
    answered, and the hours each answer took."""

    category: str
    institution: str
    name: str
    proposed: int
    contacted: int
    answered: int
    reply_hours: Hours = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MeasureTally:
    """A body's precautionary or provisional measures on the cases in scope."""

    body: str
    requested: int
    granted: int
    lifted: int
    rejected: int


@dataclass(frozen=True, slots=True)
class ReportData:
    """What the store counted for a scope: the raw figures, before any is suppressed."""

    scope: Scope
    cases: int
    closed: int
    #: dimension → key → cases (a case with two threats counts under each).
    by: Mapping[str, Mapping[str, int]]
    #: (day opened, threat) → cases; the threat `all` counts every case once.
    per_day: Mapping[tuple[date, str], int]
    #: severity → hours from opening to the first step done or target contacted, per case.
    first_action_hours: Mapping[str, Hours]
    #: severity → hours from opening to closing, per closed case.
    close_hours: Mapping[str, Hours]
    targets: list[TargetTally] = field(default_factory=list)
    measures: list[MeasureTally] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Row:
    """One cell of the report: `value` is a count, hours, "<3" or "" (too few for a time)."""

    section: str
    key: str
    label: str
    measure: str
    value: Value

    @property
    def cell(self) -> Cell:
        """Where the row sits in the table."""
        return (self.section, self.key, self.measure)


@dataclass(frozen=True, slots=True)
class Report:
    """The published report: nothing in it is finer than the suppression rule allows."""

    scope: Scope
    generated_at: datetime
    rows: tuple[Row, ...]

    def section(self, name: str) -> list[Row]:
        """The rows of one section, in order."""
        return [row for row in self.rows if row.section == name]

    def value(self, section: str, key: str, measure: str = "cases") -> Value | None:
        """One cell, or None when the report has no such row (or left it out)."""
        for row in self.rows:
            if row.cell == (section, key, measure):
                return row.value
        return None


@dataclass(frozen=True, slots=True)
class Sum:
    """Published cells a reader can add up: `total` is the sum of `parts`. When together they
    would give a small count away, the cells `left_out` are not published."""

    total: Cell
    parts: tuple[Cell, ...]
    left_out: tuple[Cell, ...]

    @property
    def cells(self) -> frozenset[Cell]:
        """The total and its parts."""
        return frozenset((self.total, *self.parts))


def rounded(count: int) -> int:
    """To the nearest multiple of ROUNDING: 3 and 4 to 5, 8 to 12 to 10."""
    return (count + ROUNDING // 2) // ROUNDING * ROUNDING


def shown(count: int) -> Value:
    """A count as it may be published: 0, "<3" for 1 and 2, else rounded to the nearest 5."""
    if count == 0:
        return 0
    return SUPPRESSED if count < SMALL_CELL else rounded(count)


def order(count: int) -> int:
    """Where a count goes in a largest-first list (ties then by key), from its published value
    only: ordered by the exact count, two "<3" or two equal rounded cells would be told apart."""
    value = shown(count)
    return value if isinstance(value, int) else 1


def bounds(value: Value) -> tuple[int, int]:
    """What a reader can tell of a count from its published value: the least and most it is."""
    if value == SUPPRESSED:
        return 1, SMALL_CELL - 1
    count = int(value)
    if count == 0:
        return 0, 0
    return max(SMALL_CELL, count - ROUNDING // 2), count + ROUNDING // 2


def pinned_cells(values: Mapping[Cell, Value], sums: Sequence[Sum]) -> set[Cell]:
    """The "<3" cells whose exact count a reader could work out from the published sums."""
    known = {cell: bounds(values[cell]) for group in sums for cell in group.cells}
    for _ in range(MAX_PASSES):
        changed = False
        for group in sums:
            changed |= _narrow(known, group)
        if not changed:
            break
    return {
        cell
        for cell, (least, most) in known.items()
        if values[cell] == SUPPRESSED and least == most
    }


def _narrow(known: dict[Cell, tuple[int, int]], group: Sum) -> bool:
    """Tighten what is known of a sum's cells from one another; whether anything changed."""
    least = sum(known[part][0] for part in group.parts)
    most = sum(known[part][1] for part in group.parts)
    t_least, t_most = known[group.total]
    tighter = {group.total: (max(t_least, least), min(t_most, most))}
    for part in group.parts:
        p_least, p_most = known[part]
        tighter[part] = (
            max(p_least, t_least - (most - p_most)),
            min(p_most, t_most - (least - p_least)),
        )
    changed = any(known[cell] != span for cell, span in tighter.items())
    known.update(tighter)
    return changed


def withheld(rows: Sequence[Row], sums: Sequence[Sum]) -> set[Cell]:
    """The cells to leave out so that no "<3" follows from the sums: while one does, the sum
    that gives the most away loses the cells it names (its breakdown, or its total)."""
    values = {row.cell: row.value for row in rows}
    out: set[Cell] = set()
    while True:
        live = [group for group in sums if not out & group.cells]
        pinned = pinned_cells(values, live)
        if not pinned:
            return out
        worst = max(
            (group for group in live if pinned & group.cells),
            key=lambda group: len(pinned & group.cells),
        )
        out.update(worst.left_out)


def merged(*tallies: Hours) -> dict[float, int]:
    """Several tallies of hours as one."""
    total: dict[float, int] = defaultdict(int)
    for tally in tallies:
        for hours, n in tally.items():
            total[hours] += n
    return dict(total)


def _ranked(hours: Hours, rank: int) -> float:
    """The value at 1-based `rank` in the tally, smallest first."""
    seen = 0
    for value in sorted(hours):
        seen += hours[value]
        if seen >= rank:
            return value
    raise ValueError(f"rank {rank} is past the {seen} values tallied")


def percentile(hours: Hours, share: float) -> float:
    """The nearest-rank percentile of a tally (`share` 0.9: 9 in 10 are at most this)."""
    return _ranked(hours, max(math.ceil(share * sum(hours.values())), 1))


def median(hours: Hours) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    n = sum(hours.values())
    if n % 2:
        return _ranked(hours, n // 2 + 1)
    return (_ranked(hours, n // 2) + _ranked(hours, n // 2 + 1)) / 2


def p90(hours: Hours) -> float:
    """9 in 10 of the tallied times are at most this."""
    return percentile(hours, 0.9)


def label_of(key: str) -> str:
    """`death_threat` as `Death threat`."""
    return key.replace("_", " ").capitalize() if key else "Not given"


def date_problem(name: str, day: date, today: date) -> str | None:
    """Why `day` cannot be a report's `since` or `until`, or None when it can."""
    latest = today + LATEST_AHEAD
    if EARLIEST_DATE <= day <= latest:
        return None
    return f"{name} must be a date between {EARLIEST_DATE} and {latest}."


def whole_periods(since: date, until: date, period: str, today: date) -> tuple[date, date]:
    """The range widened to whole months (or Monday-to-Sunday weeks), never past today: two
    reports over ranges a day apart would tell that day's cases apart."""
    return period_start(since, period), min(period_end(until, period), today)


def build_report(
    data: ReportData, *, country_names: Mapping[str, str], generated_at: datetime
) -> Report:
    """Publish the counted figures: small counts suppressed, the others rounded, times
    summarised, rows ordered, and any breakdown that would still give a small count away
    left out."""
    rows: list[Row] = [
        *_summary_rows(data),
        *_dimension_rows(data, country_names),
        *_period_rows(data),
        *_timing_rows("time_to_first_action", data.first_action_hours),
        *_timing_rows("time_to_close", data.close_hours),
        *_target_rows(data.targets),
        *_measure_rows(data.measures),
    ]
    out = withheld(rows, sums_of(data, rows))
    published = tuple(row for row in rows if row.cell not in out)
    return Report(scope=data.scope, generated_at=generated_at, rows=published)


def _summary_rows(data: ReportData) -> list[Row]:
    opened, closed = data.cases, data.closed
    return [
        Row("summary", "cases", "Cases opened", "cases", shown(opened)),
        Row("summary", "closed", "Closed", "cases", shown(closed)),
        Row("summary", OPEN, "Still open", "cases", shown(opened - closed)),
    ]


def _dimension_rows(data: ReportData, country_names: Mapping[str, str]) -> list[Row]:
    rows: list[Row] = []
    for dimension in DIMENSIONS:
        counts = data.by.get(dimension, {})
        for key in sorted(counts, key=lambda k: (-order(counts[k]), k)):
            label = country_names.get(key, key) if dimension == "country" else label_of(key)
            rows.append(Row(f"by_{dimension}", key, label, "cases", shown(counts[key])))
    return rows


def period_start(day: date, period: str) -> date:
    """The first day of the month (or the Monday of the week) that `day` falls in."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(day: date, period: str) -> date:
    """The last day of the month (or the Sunday of the week) that `day` falls in."""
    return _next_start(period_start(day, period), period) - timedelta(days=1)


def _next_start(start: date, period: str) -> date:
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods(scope: Scope) -> list[date]:
    """Every bucket from `since` to `until`, empty ones included, so a chart shows the gaps."""
    starts: list[date] = []
    current = period_start(scope.since, scope.period)
    while current <= scope.until:
        starts.append(current)
        current = _next_start(current, scope.period)
    return starts


def period_label(start: date, period: str) -> str:
    """`Mar 2026`, or `week of 2026-03-02`."""
    return f"week of {start.isoformat()}" if period == "week" else start.strftime("%b %Y")


def _period_rows(data: ReportData) -> list[Row]:
    scope = data.scope
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for (day, threat), n in data.per_day.items():
        counts[threat][period_start(day, scope.period)] += n
    threats = sorted(
        (t for t in counts if t != ALL), key=lambda t: (-order(sum(counts[t].values())), t)
    )
    rows: list[Row] = []
    for threat in (ALL, *threats):
        for start in periods(scope):
            label = period_label(start, scope.period)
            label += f" · {label_of(threat)}" if threat != ALL else ""
            value = shown(counts[threat][start])
            rows.append(
                Row("cases_by_period", f"{start.isoformat()}/{threat}", label, "cases", value)
            )
    return rows


def _timing_rows(section: str, hours: Mapping[str, Hours]) -> list[Row]:
    groups: list[tuple[str, Hours]] = [(ALL, merged(*hours.values()))]
    groups += [(s, hours.get(s, {})) for s in SEVERITY_ORDER]
    rows: list[Row] = []
    for key, values in groups:
        label = "All cases" if key == ALL else f"{label_of(key)} severity"
        rows += [
            Row(section, key, label, "cases", shown(sum(values.values()))),
            Row(section, key, label, "median_hours", _time(median, values, MEDIAN_CASES)),
            Row(section, key, label, "p90_hours", _time(p90, values, P90_CASES)),
        ]
    return rows


def _time(summary: Callable[[Hours], float], hours: Hours, least: int) -> Value:
    """The summary of the hours, to a tenth, or "" when fewer than `least` cases give it."""
    return round(summary(hours), 1) if sum(hours.values()) >= least else ""


def _target_rows(targets: Iterable[TargetTally]) -> list[Row]:
    ordered = sorted(
        targets, key=lambda t: (-order(t.contacted), -order(t.proposed), t.institution)
    )
    by_category = _by_category(ordered)
    rows: list[Row] = []
    for tally in ordered:
        rows += _tally_rows("targets", tally.institution, tally.name, [tally])
    for category, tallies in by_category.items():
        rows += _tally_rows("targets_by_category", category, label_of(category), tallies)
    return rows


def _by_category(targets: Iterable[TargetTally]) -> dict[str, list[TargetTally]]:
    """Targets by category, the categories most contacted first."""
    found: dict[str, list[TargetTally]] = defaultdict(list)
    for tally in targets:
        found[tally.category].append(tally)
    ranked = sorted(found, key=lambda c: (-order(sum(t.contacted for t in found[c])), c))
    return {category: found[category] for category in ranked}


def _tally_rows(section: str, key: str, label: str, tallies: list[TargetTally]) -> list[Row]:
    hours = merged(*(t.reply_hours for t in tallies))
    rows = [
        Row(section, key, label, count, shown(sum(getattr(t, count) for t in tallies)))
        for count in TARGET_COUNTS
    ]
    return [
        *rows,
        Row(section, key, label, "median_reply_hours", _time(median, hours, MEDIAN_CASES)),
    ]


MEASURE_COLUMNS = ("requested", "granted", "lifted", "rejected")


def _measure_rows(measures: Iterable[MeasureTally]) -> list[Row]:
    rows: list[Row] = []
    for tally in sorted(measures, key=lambda m: (-order(m.requested), m.body)):
        body = BODIES.get(tally.body)
        label = f"{body.name} ({body.kind})" if body else tally.body
        for column in MEASURE_COLUMNS:
            count: int = getattr(tally, column)
            rows.append(Row("measures", tally.body, label, column, shown(count)))
    return rows


def sums_of(data: ReportData, rows: Sequence[Row]) -> list[Sum]:
    """Every sum a reader could check the published cells against: each breakdown of the cases
    (closed and open, country, severity, outcome, periods), the closed and the open cases by
    outcome, each threat by period, times by severity, and each category's targets."""
    cells = [row.cell for row in rows]

    def parts(section: str, keep: Callable[[str], bool] = lambda _: True) -> tuple[Cell, ...]:
        return tuple(c for c in cells if c[0] == section and c[2] == "cases" and keep(c[1]))

    cases, closed = ("summary", "cases", "cases"), ("summary", "closed", "cases")
    found = [_breakdown(cases, parts("summary", lambda k: k in ("closed", OPEN)))]
    found += [_breakdown(cases, parts(section)) for section in PARTITIONS]
    found.append(_breakdown(closed, parts("by_outcome", lambda k: k != OPEN)))
    found.append(_breakdown(("summary", OPEN, "cases"), parts("by_outcome", lambda k: k == OPEN)))
    found += _period_sums(parts("cases_by_period"))
    for section in TIME_SECTIONS:
        found.append(_breakdown((section, ALL, "cases"), parts(section, lambda k: k != ALL)))
    found += _target_sums(data.targets)
    published = set(cells)
    return [group for group in found if group.parts and group.total in published]


def _period_sums(period_cells: Iterable[Cell]) -> list[Sum]:
    """All cases, and each threat's, as the sum of their periods'."""
    by_threat: dict[str, list[Cell]] = defaultdict(list)
    for cell in period_cells:
        by_threat[cell[1].split("/", 1)[1]].append(cell)
    return [_breakdown(_threat_total(t), tuple(cells)) for t, cells in by_threat.items()]


def _threat_total(threat: str) -> Cell:
    """The published count a threat's periods add up to (every case's, for `all`)."""
    return ("summary", "cases", "cases") if threat == ALL else ("by_threat", threat, "cases")


def _breakdown(total: Cell, parts: tuple[Cell, ...]) -> Sum:
    """A total and its breakdown, which is what is left out when they give a count away."""
    return Sum(total=total, parts=parts, left_out=parts)


def _target_sums(targets: Iterable[TargetTally]) -> list[Sum]:
    """Each category's counts as the sum of its institutions': the category's count is what is
    left out, since an institution's row carries other counts too."""
    found = []
    for category, tallies in _by_category(targets).items():
        for count in TARGET_COUNTS:
            total = ("targets_by_category", category, count)
            parts = tuple(("targets", t.institution, count) for t in tallies)
            found.append(Sum(total=total, parts=parts, left_out=(total,)))
    return found
