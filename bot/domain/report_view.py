"""A published report as a chat message and as a chart: both read only the report's rows, so
neither can show more than the suppression rule let through."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.messages import Block, Chart, Fields, Group, Heading, Message, Note, Panel, Series
from bot.domain.report import (
    ALL,
    MEDIAN_CASES,
    P90_CASES,
    ROUNDING,
    SEVERITY_ORDER,
    SUPPRESSED,
    Report,
    Row,
    Value,
    period_label,
    periods,
)

SHOWN_ROWS = 10
CHART_THREATS = 5
CHART_COUNTRIES = 15
EXPORT_HINT = "tocsin report --format csv"
SUPPRESSION_NOTE = (
    f"Counts only, rounded to the nearest {ROUNDING} (so totals are approximate); 1 or 2 is "
    f"shown as {SUPPRESSED}; figures that together would still give a small count away are left "
    f"out; a median needs {MEDIAN_CASES} cases and a 90th percentile {P90_CASES}. So no "
    "defender can be picked out."
)
CHART_NOTE = (
    f"Counts rounded to the nearest {ROUNDING}; counts of 1 or 2 and figures left out are not "
    f"drawn; a median needs {MEDIAN_CASES} cases. Lines: cases with that threat (a case may "
    "have several)."
)
DIMENSION_TITLES = {
    "by_country": "By country",
    "by_threat": "By threat (a case may have several)",
    "by_profile": "By profile",
    "by_perpetrator": "By perpetrator",
    "by_severity": "By severity",
    "by_outcome": "By outcome",
}


def report_message(
    report: Report,
    *,
    title: str = "Patterns of reprisals",
    where: str | None = None,
    chart: Chart | None = None,
) -> Message:
    """The report for a channel or room: the headline numbers, each breakdown's largest rows,
    response times, targets, measures, and `chart` if given (`report_chart`)."""
    scope = report.scope.describe(where)
    opened = report.value("summary", "cases")
    blocks: list[Block] = [
        Heading(f"{title}: {scope}"),
        Fields(
            (
                ("Cases opened", _text(opened)),
                ("Closed", _text(report.value("summary", "closed"))),
                ("Still open", _text(report.value("summary", "open"))),
            )
        ),
    ]
    if opened == 0:
        blocks.append(Note("No case was opened in this period."))
    else:
        blocks += [
            *_breakdowns(report),
            _timing_group(report),
            *_table_groups(report, "targets", "Targets engaged", _target_line),
            *_table_groups(
                report, "measures", "Precautionary and provisional measures", _measure_line
            ),
        ]
    if chart is not None:
        blocks.append(chart)
    blocks.append(Note(f"{_range_note(report)} {SUPPRESSION_NOTE} Every figure: {EXPORT_HINT}."))
    fallback = f"{title}: {scope}: {_about(opened)} cases opened."
    return Message(fallback=fallback, blocks=tuple(blocks), public=True)


def _range_note(report: Report) -> str:
    """Which days the report covers, and why whole periods."""
    scope = report.scope
    return (
        f"Cases opened {scope.since} to {scope.until} (UTC days): a report covers whole "
        f"{scope.period}s, up to today."
    )


def _about(value: Value | None) -> str:
    """A rounded count in words: `about 10`, `<3`, `0`."""
    return f"about {value:,}" if isinstance(value, int) and value > 0 else _text(value)


def _text(value: Value | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return value


def _breakdowns(report: Report) -> list[Group]:
    groups = []
    for section, title in DIMENSION_TITLES.items():
        rows = report.section(section)
        if rows:
            items = [f"{row.label}: {_text(row.value)}" for row in rows[:SHOWN_ROWS]]
            groups.append(Group(title, tuple(items + _more(len(rows)))))
    return groups


def _more(total: int) -> list[str]:
    return [f"… and {total - SHOWN_ROWS:,} more ({EXPORT_HINT})"] if total > SHOWN_ROWS else []


def _timing_group(report: Report) -> Group:
    lines = []
    for section, what in (("time_to_first_action", "First action"), ("time_to_close", "Close")):
        cells = {(r.key, r.measure): r.value for r in report.section(section)}
        lines.append(_timing_line(what, cells))
    return Group("Response times", tuple(lines))


def _timing_line(what: str, cells: dict[tuple[str, str], Value]) -> str:
    median, p90 = cells.get((ALL, "median_hours"), ""), cells.get((ALL, "p90_hours"), "")
    cases = cells.get((ALL, "cases"))
    if median == "":
        return f"{what}: too few cases to say ({_text(cases)})"
    within = f", 9 in 10 within {_duration(p90)}" if p90 != "" else ""
    return f"{what}: median {_duration(median)}{within} ({_about(cases)} cases)"


def _duration(hours: Value) -> str:
    if not isinstance(hours, int | float):
        return str(hours)
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _target_line(cells: dict[str, Value]) -> str:
    reply = cells["median_reply_hours"]
    typical = f" (median {_duration(reply)})" if reply != "" else ""
    return (
        f"{cells['label']}: contacted {_text(cells['contacted'])}, "
        f"answered {_text(cells['answered'])}{typical}"
    )


def _measure_line(cells: dict[str, Value]) -> str:
    return (
        f"{cells['label']}: requested {_text(cells['requested'])}, "
        f"granted {_text(cells['granted'])}, lifted {_text(cells['lifted'])}"
    )


def _table_groups(
    report: Report, section: str, title: str, line: Callable[[dict[str, Value]], str]
) -> list[Group]:
    """A section with several measures per key as one line per key, the first SHOWN_ROWS."""
    rows = _by_key(report.section(section))
    if not rows:
        return []
    items = [line(cells) for cells in list(rows.values())[:SHOWN_ROWS]]
    return [Group(title, tuple(items + _more(len(rows))))]


def _by_key(rows: list[Row]) -> dict[str, dict[str, Value]]:
    """Rows of one section by key, each as {measure: value, "label": label}, in order."""
    table: dict[str, dict[str, Value]] = {}
    for row in rows:
        table.setdefault(row.key, {"label": row.label})[row.measure] = row.value
    return table


def _drawn(value: Value | None) -> float | None:
    """What a chart may draw of a cell: a number, or nothing for a suppressed or empty one."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def report_chart(report: Report, *, where: str | None = None) -> Chart:
    """Cases per period (bars) with the most frequent threats (lines), cases by country, and
    median response times by severity: drawn from the published cells only."""
    panels = [_period_panel(report), _country_panel(report), *_timing_panels(report)]
    title = f"Patterns of reprisals, {report.scope.describe(where)}"
    alt = "; ".join(_describe(panel) for panel in panels)
    return Chart(name="tocsin-report", title=title, alt=alt, panels=tuple(panels), note=CHART_NOTE)


def _period_panel(report: Report) -> Panel:
    scope = report.scope
    buckets = periods(scope)
    cells = {row.key: row.value for row in report.section("cases_by_period")}
    labels = tuple(period_label(b, scope.period) for b in buckets)

    def run(threat: str) -> tuple[float | None, ...]:
        return tuple(_drawn(cells.get(f"{b.isoformat()}/{threat}")) for b in buckets)

    threats = [row.key for row in report.section("by_threat")][:CHART_THREATS]
    series = [Series("All cases", run(ALL), "bar")]
    series += [Series(_threat_label(report, t), run(t), "line") for t in threats]
    return Panel("bars", f"Cases opened per {scope.period}", labels, tuple(series))


def _threat_label(report: Report, threat: str) -> str:
    return next((r.label for r in report.section("by_threat") if r.key == threat), threat)


def _country_panel(report: Report) -> Panel:
    rows = [r for r in report.section("by_country") if _drawn(r.value) is not None]
    rows = rows[:CHART_COUNTRIES]
    return Panel(
        "hbars",
        "Cases by country",
        tuple(r.label for r in rows),
        (Series("Cases", tuple(_drawn(r.value) for r in rows)),),
    )


def _timing_panels(report: Report) -> list[Panel]:
    keys = (ALL, *SEVERITY_ORDER)
    panels = []
    for section, title, unit, scale in (
        ("time_to_first_action", "Median hours to first action", "hours", 1.0),
        ("time_to_close", "Median days to close", "days", 24.0),
    ):
        cells = {(r.key, r.measure): r for r in report.section(section)}
        labels = tuple(cells[(k, "median_hours")].label for k in keys)
        values = tuple(_scaled(cells[(k, "median_hours")].value, scale) for k in keys)
        panels.append(Panel("hbars", title, labels, (Series(title, values),), unit))
    return panels


def _scaled(value: Value, scale: float) -> float | None:
    drawn = _drawn(value)
    return None if drawn is None else round(drawn / scale, 1)


def _describe(panel: Panel) -> str:
    first = panel.series[0]
    # Over time, the periods with cases; by category, every drawn bar (0 hours is a figure).
    pairs: list[tuple[str, float]] = [
        (label, v)
        for label, v in zip(panel.labels, first.values, strict=True)
        if v is not None and (v or panel.kind == "hbars")
    ]
    shown = ", ".join(f"{label} {_number(v)}" for label, v in pairs[:SHOWN_ROWS])
    return f"{panel.title}: {shown or 'nothing to draw'}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
