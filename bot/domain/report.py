"""Patterns of reprisals: counts of cases, response times, targets engaged and measures.

Plain data in (what the store counted for a scope), plain data out: a `Report` of rows in one
long table (section, key, label, measure, value) that the chat message, the charts and the
CSV/JSON exports all read. Anonymous by construction: only counts and times leave here, every
count from 1 to 2 is shown as "<3" (a small cell could point at one defender), and a time is
given only for a group of at least 3 cases.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.domain.measures import BODIES

SMALL_CELL = 3
SUPPRESSED = "<3"
# A second cell held back so that a suppressed one cannot be worked out from the total.
HIDDEN = "hidden"
ALL = "all"

Value = int | float | str
# Hours (to a tenth, 6 minutes) → how many cases took that long: the database tallies times,
# so a report over 100,000 cases reads a few thousand rows, not a row per case.
Hours = Mapping[float, int]

# The dimensions whose cells each case falls in exactly once: their cells add up to the total.
PARTITIONS = ("country", "severity", "outcome")
DIMENSIONS = ("country", "threat", "profile", "perpetrator", "severity", "outcome")
SEVERITY_ORDER = ("critical", "high", "medium")


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
    """One cell of the report: `value` is a count, hours, "<3", "hidden" or "" (too few)."""

    section: str
    key: str
    label: str
    measure: str
    value: Value


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
        """One cell, or None when the report has no such row."""
        for row in self.rows:
            if (row.section, row.key, row.measure) == (section, key, measure):
                return row.value
        return None


def shown(count: int) -> Value:
    """A count as it may be published: 0, "<3" for 1 and 2, else the count."""
    return SUPPRESSED if 0 < count < SMALL_CELL else count


def shown_partition(counts: Mapping[str, int]) -> dict[str, Value]:
    """Counts that add up to a published total: when exactly one is suppressed, the next
    smallest is hidden too, so the total minus the rest does not give the small one away."""
    values = {key: shown(n) for key, n in counts.items()}
    small = [key for key, value in values.items() if value == SUPPRESSED]
    if len(small) == 1:
        others = [(n, key) for key, n in counts.items() if n >= SMALL_CELL]
        if others:
            values[min(others)[1]] = HIDDEN
    return values


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


def label_of(key: str) -> str:
    """`death_threat` as `Death threat`."""
    return key.replace("_", " ").capitalize() if key else "Not given"


def build_report(
    data: ReportData, *, country_names: Mapping[str, str], generated_at: datetime
) -> Report:
    """Publish the counted figures: suppress small cells, summarise times, order the rows."""
    rows: list[Row] = [
        *_summary_rows(data),
        *_dimension_rows(data, country_names),
        *_period_rows(data),
        *_timing_rows("time_to_first_action", data.first_action_hours),
        *_timing_rows("time_to_close", data.close_hours),
        *_target_rows(data.targets),
        *_measure_rows(data.measures),
    ]
    return Report(scope=data.scope, generated_at=generated_at, rows=tuple(rows))


def _summary_rows(data: ReportData) -> list[Row]:
    opened, closed = data.cases, data.closed
    values = shown_partition({"closed": closed, "open": opened - closed})
    return [
        Row("summary", "cases", "Cases opened", "cases", shown(opened)),
        Row("summary", "closed", "Closed", "cases", values["closed"]),
        Row("summary", "open", "Still open", "cases", values["open"]),
    ]


def _dimension_rows(data: ReportData, country_names: Mapping[str, str]) -> list[Row]:
    rows: list[Row] = []
    for dimension in DIMENSIONS:
        counts = data.by.get(dimension, {})
        values = (
            shown_partition(counts)
            if dimension in PARTITIONS
            else {key: shown(n) for key, n in counts.items()}
        )
        # Largest first; ties by key, so the same data always gives the same report.
        for key in sorted(counts, key=lambda k: (-counts[k], k)):
            label = country_names.get(key, key) if dimension == "country" else label_of(key)
            rows.append(Row(f"by_{dimension}", key, label, "cases", values[key]))
    return rows


def period_start(day: date, period: str) -> date:
    """The first day of the month (or the Monday of the week) that `day` falls in."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def periods(scope: Scope) -> list[date]:
    """Every bucket from `since` to `until`, empty ones included, so a chart shows the gaps."""
    starts: list[date] = []
    current = period_start(scope.since, scope.period)
    while current <= scope.until:
        starts.append(current)
        if scope.period == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return starts


def period_label(start: date, period: str) -> str:
    """`Mar 2026`, or `week of 2026-03-02`."""
    return f"week of {start.isoformat()}" if period == "week" else start.strftime("%b %Y")


def _period_rows(data: ReportData) -> list[Row]:
    scope = data.scope
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for (day, threat), n in data.per_day.items():
        counts[threat][period_start(day, scope.period)] += n
    buckets = periods(scope)
    every = shown_partition({b.isoformat(): counts[ALL][b] for b in buckets})
    rows = [
        Row("cases_by_period", f"{b.isoformat()}/{ALL}", period_label(b, scope.period), "cases", v)
        for b, v in zip(buckets, every.values(), strict=True)
    ]
    threats = sorted((t for t in counts if t != ALL), key=lambda t: (-sum(counts[t].values()), t))
    for threat in threats:
        for b in buckets:
            label = f"{period_label(b, scope.period)} · {label_of(threat)}"
            key = f"{b.isoformat()}/{threat}"
            rows.append(Row("cases_by_period", key, label, "cases", shown(counts[threat][b])))
    return rows


def _timing_rows(section: str, hours: Mapping[str, Hours]) -> list[Row]:
    groups: list[tuple[str, Hours]] = [(ALL, merged(*hours.values()))]
    groups += [(s, hours.get(s, {})) for s in SEVERITY_ORDER]
    rows: list[Row] = []
    for key, values in groups:
        label = "All cases" if key == ALL else f"{label_of(key)} severity"
        cases = sum(values.values())
        enough = cases >= SMALL_CELL
        rows += [
            Row(section, key, label, "cases", shown(cases)),
            Row(section, key, label, "median_hours", round(median(values), 1) if enough else ""),
            Row(
                section,
                key,
                label,
                "p90_hours",
                round(percentile(values, 0.9), 1) if enough else "",
            ),
        ]
    return rows


def _target_rows(targets: Iterable[TargetTally]) -> list[Row]:
    by_category: dict[str, list[TargetTally]] = defaultdict(list)
    ordered = sorted(targets, key=lambda t: (-t.contacted, -t.proposed, t.institution))
    rows: list[Row] = []
    for tally in ordered:
        by_category[tally.category].append(tally)
        rows += _tally_rows("targets", tally.institution, tally.name, [tally])
    for category in sorted(
        by_category, key=lambda c: (-sum(t.contacted for t in by_category[c]), c)
    ):
        rows += _tally_rows(
            "targets_by_category", category, label_of(category), by_category[category]
        )
    return rows


def _tally_rows(section: str, key: str, label: str, tallies: list[TargetTally]) -> list[Row]:
    answered = sum(t.answered for t in tallies)
    hours = merged(*(t.reply_hours for t in tallies))
    typical = round(median(hours), 1) if sum(hours.values()) >= SMALL_CELL else ""
    return [
        Row(section, key, label, "proposed", shown(sum(t.proposed for t in tallies))),
        Row(section, key, label, "contacted", shown(sum(t.contacted for t in tallies))),
        Row(section, key, label, "answered", shown(answered)),
        Row(section, key, label, "median_reply_hours", typical),
    ]


MEASURE_COLUMNS = ("requested", "granted", "lifted", "rejected")


def _measure_rows(measures: Iterable[MeasureTally]) -> list[Row]:
    rows: list[Row] = []
    for tally in sorted(measures, key=lambda m: (-m.requested, m.body)):
        body = BODIES.get(tally.body)
        label = f"{body.name} ({body.kind})" if body else tally.body
        for column in MEASURE_COLUMNS:
            count: int = getattr(tally, column)
            rows.append(Row("measures", tally.body, label, column, shown(count)))
    return rows
