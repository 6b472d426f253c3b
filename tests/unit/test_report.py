"""Reports in the pure core: hand-counted figures published with small cells suppressed, the
chat message and chart built only from what was published, and the CSV/JSON exports."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from bot.charts import PNG_SIGNATURE, png_size, render_png
from bot.domain.commands import CommandError, ReportRequest, WeeklyReport, parse_command
from bot.domain.messages import Chart, Group, Heading
from bot.domain.report import (
    HIDDEN,
    SUPPRESSED,
    MeasureTally,
    ReportData,
    Scope,
    TargetTally,
    build_report,
    median,
    percentile,
    periods,
    shown,
    shown_partition,
)
from bot.domain.report_view import report_chart, report_message
from bot.domain.wire import message_from_json, message_to_json
from bot.report_export import BOM, COLUMNS, report_csv, report_json

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NAMES = {"HN": "Honduras", "GT": "Guatemala", "CO": "Colombia"}
SCOPE = Scope(since=date(2026, 9, 1), until=date(2026, 11, 28))


def _data(**changes: object) -> ReportData:
    """Nine fictional cases, counted by hand: six in Honduras, two in Guatemala, one in
    Colombia; seven death threats, four detentions, one raid; three closed."""
    values: dict[str, object] = {
        "scope": SCOPE,
        "cases": 9,
        "closed": 3,
        "by": {
            "country": {"HN": 6, "GT": 2, "CO": 1},
            "threat": {"death_threat": 7, "arbitrary_detention": 4, "raid": 1},
            "profile": {"journalist": 5, "land": 4},
            "perpetrator": {"state": 8, "non_state": 1},
            "severity": {"critical": 5, "high": 4},
            "outcome": {"open": 6, "released": 3},
        },
        "per_day": {
            (date(2026, 9, 3), "all"): 2,
            (date(2026, 9, 3), "death_threat"): 2,
            (date(2026, 10, 10), "all"): 3,
            (date(2026, 10, 10), "death_threat"): 3,
            (date(2026, 10, 10), "arbitrary_detention"): 3,
            (date(2026, 11, 2), "all"): 4,
            (date(2026, 11, 2), "death_threat"): 2,
            (date(2026, 11, 2), "arbitrary_detention"): 1,
            (date(2026, 11, 2), "raid"): 1,
        },
        "first_action_hours": {
            "critical": Counter([1.0, 2.0, 4.0, 10.0]),
            "high": Counter([3.0, 30.0]),
        },
        "close_hours": {"high": Counter([48.0, 72.0, 240.0])},
        "targets": [
            TargetTally(
                "embassy", "embassy:CA", "Embassy of Canada", 9, 5, 3, Counter([24, 48, 6.0])
            ),
            TargetTally("embassy", "embassy:NO", "Embassy of Norway", 9, 2, 1, {12.0: 1}),
            TargetTally("regional_body", "iachr", "IACHR", 9, 4, 0),
        ],
        "measures": [MeasureTally("iachr", requested=4, granted=3, lifted=1, rejected=0)],
    }
    values.update(changes)
    return ReportData(**values)  # type: ignore[arg-type]


def _empty() -> ReportData:
    """A period in which no case was opened."""
    return _data(
        cases=0,
        closed=0,
        by={},
        per_day={},
        first_action_hours={},
        close_hours={},
        targets=[],
        measures=[],
    )


def test_counts_of_one_or_two_are_shown_as_under_three() -> None:
    assert [shown(n) for n in (0, 1, 2, 3, 40)] == [0, SUPPRESSED, SUPPRESSED, 3, 40]


def test_a_lone_small_cell_of_a_total_takes_the_next_smallest_with_it() -> None:
    # 6 + 2 + 1 = 9 is published: with only the 1 hidden, 9 - 6 - 2 would give it away.
    assert shown_partition({"HN": 6, "GT": 2, "CO": 1}) == {
        "HN": 6,
        "GT": SUPPRESSED,
        "CO": SUPPRESSED,
    }
    assert shown_partition({"HN": 6, "GT": 4, "CO": 1}) == {"HN": 6, "GT": HIDDEN, "CO": SUPPRESSED}
    assert shown_partition({"HN": 6, "GT": 4}) == {"HN": 6, "GT": 4}


def test_the_hand_counted_figures_are_published_as_counted() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    assert report.value("summary", "cases") == 9
    assert report.value("summary", "closed") == 3
    assert report.value("summary", "open") == 6
    assert [(r.label, r.value) for r in report.section("by_country")] == [
        ("Honduras", 6),
        ("Guatemala", SUPPRESSED),
        ("Colombia", SUPPRESSED),
    ]
    assert [(r.key, r.value) for r in report.section("by_threat")] == [
        ("death_threat", 7),
        ("arbitrary_detention", 4),
        ("raid", SUPPRESSED),
    ]
    assert report.value("by_perpetrator", "non_state") == SUPPRESSED
    assert report.value("by_outcome", "released") == 3
    # Months with no case are rows too, so a chart shows the gap.
    assert report.value("cases_by_period", "2026-09-01/all") == SUPPRESSED
    assert report.value("cases_by_period", "2026-10-01/all") == HIDDEN
    assert report.value("cases_by_period", "2026-10-01/arbitrary_detention") == 3
    assert report.value("cases_by_period", "2026-11-01/death_threat") == SUPPRESSED
    assert report.value("cases_by_period", "2026-09-01/raid") == 0


def test_times_are_given_only_for_three_cases_or_more() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    # All six first actions: 1, 2, 3, 4, 10, 30 hours.
    assert report.value("time_to_first_action", "all") == 6
    assert report.value("time_to_first_action", "all", "median_hours") == 3.5
    assert report.value("time_to_first_action", "all", "p90_hours") == 30.0
    assert report.value("time_to_first_action", "critical", "median_hours") == 3.0
    assert report.value("time_to_first_action", "high") == SUPPRESSED
    assert report.value("time_to_first_action", "high", "median_hours") == ""
    assert report.value("time_to_close", "high", "median_hours") == 72.0
    assert report.value("time_to_close", "medium") == 0


def test_targets_and_measures_are_counted_with_the_same_rule() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    assert report.value("targets", "embassy:CA", "contacted") == 5
    assert report.value("targets", "embassy:CA", "answered") == 3
    assert report.value("targets", "embassy:CA", "median_reply_hours") == 24.0
    # One answer: neither the count nor how fast it came is published.
    assert report.value("targets", "embassy:NO", "answered") == SUPPRESSED
    assert report.value("targets", "embassy:NO", "median_reply_hours") == ""
    assert report.value("targets_by_category", "embassy", "contacted") == 7
    assert report.value("targets_by_category", "embassy", "median_reply_hours") == 18.0
    assert [r.key for r in report.section("targets")][::4] == ["embassy:CA", "iachr", "embassy:NO"]
    assert report.value("measures", "iachr", "granted") == 3
    assert report.value("measures", "iachr", "lifted") == SUPPRESSED


def test_median_and_percentile_of_tallies_by_hand() -> None:
    assert median(Counter([5.0, 1.0, 3.0])) == 3.0
    assert median(Counter([4.0, 1.0, 3.0, 2.0])) == 2.5
    assert median({1.0: 2, 7.0: 2}) == 4.0
    assert median({2.0: 3, 9.0: 1}) == 2.0
    assert percentile(Counter(float(n) for n in range(1, 11)), 0.9) == 9.0
    assert percentile({1.0: 9, 50.0: 1}, 0.9) == 1.0
    assert percentile({1.0: 8, 50.0: 2}, 0.9) == 50.0


def test_periods_cover_every_month_or_week_of_the_scope() -> None:
    assert periods(Scope(date(2026, 1, 15), date(2026, 3, 1))) == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    weeks = periods(Scope(date(2026, 11, 4), date(2026, 11, 23), period="week"))
    assert weeks == [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert periods(Scope(date(2025, 12, 5), date(2026, 1, 2))) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
    ]


def test_the_message_shows_the_published_cells_and_says_how_small_ones_are_shown() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    message = report_message(report, chart=report_chart(report))
    assert message.public
    heading = message.blocks[0]
    assert isinstance(heading, Heading) and "2026-09-01 to 2026-11-28" in heading.text
    groups = {b.title: b.items for b in message.blocks if isinstance(b, Group)}
    assert groups["By country"] == ("Honduras: 6", "Guatemala: <3", "Colombia: <3")
    assert "First action: median 3.5 h, 9 in 10 within 30.0 h (6 cases)" in groups["Response times"]
    assert (
        groups["Targets engaged"][0] == "Embassy of Canada: contacted 5, answered 3 (median 24.0 h)"
    )
    assert "counts under 3" in message.blocks[-1].text.lower() or "<3" in message.blocks[-1].text  # type: ignore[union-attr]
    assert isinstance(message.blocks[-2], Chart)


def test_the_chart_draws_no_suppressed_cell() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    chart = report_chart(report)
    months, countries, first_action, close = chart.panels
    assert months.labels == ("Sep 2026", "Oct 2026", "Nov 2026")
    every, *threats = months.series
    # September's 2 cases are not drawn, nor October's 3, which would give them away.
    assert every.values == (None, None, 4.0)
    assert [s.name for s in threats] == ["Death threat", "Arbitrary detention", "Raid"]
    assert threats[0].values == (None, 3.0, None)
    assert countries.labels == ("Honduras",) and countries.series[0].values == (6.0,)
    assert first_action.series[0].values == (3.5, 3.0, None, None)
    assert close.series[0].values == (3.0, None, 3.0, None)  # 72 hours: 3 days
    assert "Cases by country: Honduras 6" in chart.alt


def test_a_report_with_no_case_says_so() -> None:
    report = build_report(_empty(), country_names=NAMES, generated_at=NOW)
    message = report_message(report)
    assert "No case was opened in this period." in [getattr(b, "text", "") for b in message.blocks]
    assert report.value("summary", "cases") == 0


def test_a_chart_survives_the_outbox() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    message = report_message(report, chart=report_chart(report))
    assert message_from_json(json.loads(json.dumps(message_to_json(message)))) == message


def test_the_csv_round_trips_and_opens_in_a_spreadsheet() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    text = report_csv(report, bom=True)
    assert text.startswith(BOM) and "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))
    assert tuple(rows[0]) == COLUMNS
    scope = {r["key"]: r["value"] for r in rows if r["section"] == "scope"}
    assert scope["since"] == "2026-09-01" and scope["generated_at"] == "2026-11-28T12:00:00Z"
    body = [r for r in rows if r["section"] != "scope"]
    assert [(r["section"], r["key"], r["label"], r["measure"], r["value"]) for r in body] == [
        (row.section, row.key, row.label, row.measure, str(row.value)) for row in report.rows
    ]
    assert report_csv(report).startswith("section,")


def test_a_label_a_spreadsheet_would_run_as_a_formula_is_quoted() -> None:
    tally = MeasureTally("=HYPERLINK(0)", requested=3, granted=0, lifted=0, rejected=0)
    report = build_report(_data(measures=[tally]), country_names=NAMES, generated_at=NOW)
    assert "'=HYPERLINK(0)" in report_csv(report) and ",=HYPERLINK" not in report_csv(report)


def test_the_json_holds_the_same_rows_with_numbers_as_numbers() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    data = json.loads(report_json(report))
    assert data["scope"]["until"] == "2026-11-28" and data["scope"]["small_cell"] == 3
    assert data["columns"] == list(COLUMNS)
    assert len(data["rows"]) == len(report.rows)
    assert {
        "section": "by_country",
        "key": "HN",
        "label": "Honduras",
        "measure": "cases",
        "value": 6,
    } in data["rows"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("report", ReportRequest()),
        (
            "report since=2026-01-01 until=2026-06-30 country=Honduras period=week chart=no",
            ReportRequest(
                since=date(2026, 1, 1),
                until=date(2026, 6, 30),
                country="Honduras",
                period="week",
                chart=False,
            ),
        ),
        ("report weekly on", WeeklyReport(on=True)),
        ("report WEEKLY off", WeeklyReport(on=False)),
    ],
)
def test_ua_report_is_parsed(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("report since=2026-13-01", "is not a date"),
        ("report since=2026-06-01 until=2026-01-01", "since must be on or before until"),
        ("report period=year", "period: say month or week"),
        ("report weekly", "ua report weekly on|off"),
        ("report colour=red", "is not understood"),
        ("report since=2026-01-01 since=2026-02-01", "given twice"),
    ],
)
def test_a_bad_ua_report_says_what_to_write(text: str, says: str) -> None:
    with pytest.raises(CommandError, match=says):
        parse_command(text)


def test_the_chart_is_drawn_as_a_png_even_with_nothing_to_draw() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    png = render_png(report_chart(report))
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000
    width, height = png_size(png)
    assert width > height > 400
    nothing = build_report(_empty(), country_names=NAMES, generated_at=NOW)
    assert render_png(report_chart(nothing)).startswith(PNG_SIGNATURE)
