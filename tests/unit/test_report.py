"""Reports in the pure core: hand-counted figures published with small cells suppressed and the
others rounded, attacks on that suppression, the chat message and chart built only from what was
published, and the CSV/JSON exports."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from bot.domain.commands.forms import CommandError, ReportRequest, WeeklyReport
from bot.domain.commands.table import parse_command
from bot.domain.messages import Chart, Group, Heading, Note
from bot.domain.report import (
    SUPPRESSED,
    MeasureTally,
    Report,
    ReportData,
    Scope,
    TargetTally,
    build_report,
    date_problem,
    median,
    percentile,
    periods,
    shown,
    whole_periods,
)
from bot.domain.report_chart import PNG_SIGNATURE, png_size, render_png
from bot.domain.report_export import BOM, COLUMNS, report_csv, report_json
from bot.domain.report_view import report_chart, report_message
from bot.domain.wire import message_from_json, message_to_json

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


def test_counts_of_one_or_two_are_under_three_and_the_others_rounded_to_five() -> None:
    counts = (0, 1, 2, 3, 4, 7, 8, 12, 13, 40)
    assert [shown(n) for n in counts] == [0, SUPPRESSED, SUPPRESSED, 5, 5, 5, 10, 10, 15, 40]


def _by_country(counts: dict[str, int]) -> ReportData:
    """Cases in these countries, otherwise alike: all high severity, open, opened one day."""
    total = sum(counts.values())
    return _data(
        cases=total,
        closed=0,
        by={"country": counts, "severity": {"high": total}, "outcome": {"open": total}},
        per_day={(date(2026, 9, 3), "all"): total},
        first_action_hours={},
        close_hours={},
        targets=[],
        measures=[],
    )


def _small_cells_left_open(report: Report, section: str) -> dict[str, set[int]]:
    """For each "<3" cell of a breakdown, every count it can have that agrees with the
    published cells and the published total (an attacker's exhaustive search)."""
    cells = {row.key: row.value for row in report.section(section)}
    total = report.value("summary", "cases")
    options = [[n for n in range(60) if shown(n) == value] for value in cells.values()]
    possible: dict[str, set[int]] = {k: set() for k, v in cells.items() if v == SUPPRESSED}
    for counts in itertools.product(*options):
        if shown(sum(counts)) == total:
            for key, n in zip(cells, counts, strict=True):
                if key in possible:
                    possible[key].add(n)
    return possible


@pytest.mark.parametrize(
    ("counts", "listed"),
    [
        # Once Guatemala was "hidden" but listed before Honduras's 4, so 4 too: Colombia 9 - 8.
        ({"HN": 4, "GT": 4, "CO": 1}, True),
        ({"HN": 1, "GT": 1}, False),  # a total of 1 or 2 in two small cells: both are 1
        ({"HN": 2, "GT": 2}, True),  # a total of 4, once exact, in two small cells: both 2
        (dict.fromkeys(("HN", "GT", "CO", "SV", "NI", "MX", "BR"), 1), False),  # 7 in "5"
        ({"HN": 3, "GT": 3, **dict.fromkeys(("CO", "SV", "NI", "MX", "BR", "PE"), 1)}, False),
        (dict.fromkeys(("HN", "GT", "CO", "SV"), 2), False),  # 8, rounded to 10: at least 8
    ],
)
def test_no_small_cell_can_be_worked_out_from_the_total(
    counts: dict[str, int], listed: bool
) -> None:
    report = build_report(_by_country(counts), country_names=NAMES, generated_at=NOW)
    assert bool(report.section("by_country")) == listed
    for key, possible in _small_cells_left_open(report, "by_country").items():
        assert possible == {1, 2}, (key, possible)


def test_the_order_of_the_rows_tells_no_more_than_their_values() -> None:
    # Listed by the exact count, largest first, the 2 would come before the 1 whatever the key.
    def published(countries: dict[str, int], canada: int, norway: int) -> Report:
        targets = [
            TargetTally("embassy", "embassy:CA", "Embassy of Canada", 9, canada, 0),
            TargetTally("embassy", "embassy:NO", "Embassy of Norway", 9, norway, 0),
        ]
        data = _data(by={"country": countries}, targets=targets, measures=[])
        return build_report(data, country_names=NAMES, generated_at=NOW)

    one, other = published({"GT": 1, "CO": 2}, 3, 4), published({"GT": 2, "CO": 1}, 4, 3)
    assert one.rows == other.rows
    assert [r.key for r in one.section("by_country")] == ["CO", "GT"]


def test_a_breakdown_that_would_give_a_small_count_away_is_left_out() -> None:
    report = build_report(_by_country({"HN": 1, "GT": 1}), country_names=NAMES, generated_at=NOW)
    assert report.value("summary", "cases") == SUPPRESSED
    assert report.section("by_country") == []
    assert report.value("by_severity", "high") == SUPPRESSED  # one cell: no more than the total
    message = report_message(report)
    assert "By country" not in [b.title for b in message.blocks if isinstance(b, Group)]


def test_sums_across_sections_do_not_give_a_small_count_away() -> None:
    """One raid in September and one in November; a first action on one critical and one high
    case; Canada's and Norway's embassies each contacted on one case."""
    per_day = {**_data().per_day, (date(2026, 9, 3), "raid"): 1}
    fewer = {"critical": Counter([1.0]), "high": Counter([30.0])}
    targets = [
        TargetTally("embassy", "embassy:CA", "Embassy of Canada", 9, 1, 0),
        TargetTally("embassy", "embassy:NO", "Embassy of Norway", 9, 1, 0),
    ]
    by = {**_data().by, "threat": {"death_threat": 7, "arbitrary_detention": 4, "raid": 2}}
    data = _data(by=by, per_day=per_day, first_action_hours=fewer, targets=targets)
    report = build_report(data, country_names=NAMES, generated_at=NOW)
    # Two "<3" cells under a "<3" total: both would be 1, so the breakdown is left out.
    assert report.value("by_threat", "raid") == SUPPRESSED
    assert report.value("cases_by_period", "2026-09-01/raid") is None
    assert report.value("cases_by_period", "2026-09-01/all") == SUPPRESSED
    assert report.value("time_to_first_action", "all") == SUPPRESSED
    assert report.value("time_to_first_action", "critical") is None
    assert report.value("targets", "embassy:CA", "contacted") == SUPPRESSED
    assert report.value("targets_by_category", "embassy", "contacted") is None
    assert report.value("targets_by_category", "embassy", "proposed") == 20


def test_the_hand_counted_figures_are_published_rounded() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    assert report.value("summary", "cases") == 10  # 9
    assert report.value("summary", "closed") == 5  # 3
    assert report.value("summary", "open") == 5  # 6
    # Equal published values are listed by key: Colombia's 1 before Guatemala's 2.
    assert [(r.label, r.value) for r in report.section("by_country")] == [
        ("Honduras", 5),
        ("Colombia", SUPPRESSED),
        ("Guatemala", SUPPRESSED),
    ]
    assert [(r.key, r.value) for r in report.section("by_threat")] == [
        ("arbitrary_detention", 5),  # 4
        ("death_threat", 5),  # 7
        ("raid", SUPPRESSED),
    ]
    assert report.value("by_perpetrator", "non_state") == SUPPRESSED
    assert report.value("by_outcome", "released") == 5
    # Months with no case are rows too, so a chart shows the gap.
    assert report.value("cases_by_period", "2026-09-01/all") == SUPPRESSED
    assert report.value("cases_by_period", "2026-10-01/all") == 5
    assert report.value("cases_by_period", "2026-10-01/arbitrary_detention") == 5
    assert report.value("cases_by_period", "2026-11-01/death_threat") == SUPPRESSED
    assert report.value("cases_by_period", "2026-09-01/raid") == 0


def test_a_median_needs_three_cases_a_p90_ten_and_the_number_of_cases_is_rounded() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    # All six first actions: 1, 2, 3, 4, 10, 30 hours.
    assert report.value("time_to_first_action", "all") == 5
    assert report.value("time_to_first_action", "all", "median_hours") == 3.5
    assert report.value("time_to_first_action", "all", "p90_hours") == ""
    assert report.value("time_to_first_action", "critical", "median_hours") == 3.0
    assert report.value("time_to_first_action", "high") == SUPPRESSED
    assert report.value("time_to_first_action", "high", "median_hours") == ""
    assert report.value("time_to_close", "high", "median_hours") == 72.0
    assert report.value("time_to_close", "medium") == 0
    ten = {"critical": Counter(float(n) for n in range(1, 11))}
    report = build_report(_data(first_action_hours=ten), country_names=NAMES, generated_at=NOW)
    assert report.value("time_to_first_action", "all", "p90_hours") == 9.0


def test_targets_and_measures_are_counted_with_the_same_rule() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    assert report.value("targets", "embassy:CA", "contacted") == 5
    assert report.value("targets", "embassy:CA", "answered") == 5  # 3
    assert report.value("targets", "embassy:CA", "median_reply_hours") == 24.0
    # One answer: neither the count nor how fast it came is published.
    assert report.value("targets", "embassy:NO", "answered") == SUPPRESSED
    assert report.value("targets", "embassy:NO", "median_reply_hours") == ""
    assert report.value("targets_by_category", "embassy", "contacted") == 5  # 7
    assert report.value("targets_by_category", "embassy", "median_reply_hours") == 18.0
    assert [r.key for r in report.section("targets")][::4] == ["embassy:CA", "iachr", "embassy:NO"]
    assert report.value("measures", "iachr", "granted") == 5
    assert report.value("measures", "iachr", "lifted") == SUPPRESSED


def test_report_ranges_are_whole_months_or_weeks_never_past_today() -> None:
    today = date(2026, 11, 28)
    assert whole_periods(date(2026, 9, 2), date(2026, 10, 30), "month", today) == (
        date(2026, 9, 1),
        date(2026, 10, 31),
    )
    assert whole_periods(date(2026, 9, 1), date(2026, 12, 31), "month", today) == (
        date(2026, 9, 1),
        today,
    )
    # Wednesday 4 to Wednesday 18 November: Monday 2 to Sunday 22.
    assert whole_periods(date(2026, 11, 4), date(2026, 11, 18), "week", today) == (
        date(2026, 11, 2),
        date(2026, 11, 22),
    )


def test_report_dates_run_from_2000_to_a_year_after_today() -> None:
    today = date(2026, 11, 28)
    assert date_problem("since", date(2000, 1, 1), today) is None
    assert date_problem("until", date(2027, 11, 28), today) is None
    says = "until must be a date between 2000-01-01 and 2027-11-28."
    assert date_problem("until", date(9999, 12, 31), today) == says
    assert date_problem("until", date(1999, 12, 31), today) == says


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


def test_the_message_shows_the_published_cells_and_says_how_counts_are_shown() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    message = report_message(report, chart=report_chart(report))
    assert message.public
    heading = message.blocks[0]
    assert isinstance(heading, Heading) and "2026-09-01 to 2026-11-28" in heading.text
    groups = {b.title: b.items for b in message.blocks if isinstance(b, Group)}
    assert groups["By country"] == ("Honduras: 5", "Colombia: <3", "Guatemala: <3")
    assert "First action: median 3.5 h (about 5 cases)" in groups["Response times"]
    assert (
        groups["Targets engaged"][0] == "Embassy of Canada: contacted 5, answered 5 (median 24.0 h)"
    )
    note = message.blocks[-1]
    assert isinstance(note, Note) and "rounded to the nearest 5" in note.text
    assert "2026-09-01 to 2026-11-28 (UTC days): a report covers whole months" in note.text
    assert message.fallback.endswith("about 10 cases opened.")
    assert isinstance(message.blocks[-2], Chart)


def test_the_chart_draws_no_suppressed_cell() -> None:
    report = build_report(_data(), country_names=NAMES, generated_at=NOW)
    chart = report_chart(report)
    months, countries, first_action, close = chart.panels
    assert months.labels == ("Sep 2026", "Oct 2026", "Nov 2026")
    every, *threats = months.series
    # September's 2 cases are not drawn; October's 3 and November's 4 are drawn rounded.
    assert every.values == (None, 5.0, 5.0)
    assert [s.name for s in threats] == ["Arbitrary detention", "Death threat", "Raid"]
    assert threats[1].values == (None, 5.0, None)
    assert countries.labels == ("Honduras",) and countries.series[0].values == (5.0,)
    assert first_action.series[0].values == (3.5, 3.0, None, None)
    assert close.series[0].values == (3.0, None, 3.0, None)  # 72 hours: 3 days
    assert "Cases by country: Honduras 5" in chart.alt


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
    assert data["scope"]["rounding"] == 5
    assert data["columns"] == list(COLUMNS)
    assert len(data["rows"]) == len(report.rows)
    assert {
        "section": "by_country",
        "key": "HN",
        "label": "Honduras",
        "measure": "cases",
        "value": 5,
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
