"""Reports over 100,000 cases, on SQLite and PostgreSQL (target: under 2 s).

The data is the digest benchmark's (`bench.digest.fill`: 100,000 fictional cases over two years,
1,000,000 steps, 200,000 targets, 5,000 measures), with what a report counts added set-based:
one threat for every case and a second for one in three, profiles and perpetrators in a few
combinations, the first action of each case taken from its earliest done step (as migration
0010 does), and an answer from one contacted target in three, 1 to 72 hours after it was
contacted.

Then, in a fresh process per database (which did not fill it), 3 warm-up runs and 15 timed
runs of:
- the report of every case (two years, monthly chart buckets): counting in the database,
  publishing with suppression, the chat message, and the CSV export, as `tocsin report` does;
- the same plus drawing the chart as PNG with matplotlib, as `ua report` does before posting.

Reports the median and p95 of each against the 2 s target. Run it as `python -m bench.report`.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from sqlalchemy import Engine, text

from bench.digest import (
    NOW,
    START,
    _epoch,
    _pick,
    _stamp,
    analysed,
    bench_services,
    child,
    engine_for,
    fill,
    on_both_databases,
)
from bench.results import Figure, percentile, publish, spread
from bot.domain.report import Scope
from bot.domain.report_export import report_csv
from bot.domain.report_view import report_chart, report_message
from bot.store.sealing import generate_key, use_keys
from handlers.report import make_report

WARM_UP, RUNS = 3, 15
TARGET_S = 2.0
THREATS = [
    "death_threat",
    "arbitrary_detention",
    "judicial_harassment",
    "physical_attack",
    "smear_campaign",
    "surveillance",
    "raid",
    "killing",
]
PROFILES = ['["journalist"]', '["land", "indigenous"]', '["lawyer"]', '["environmental"]', "[]"]
PERPETRATORS = ['["state"]', '["non_state"]', '["state", "non_state"]', '["unknown"]']
SCOPE = Scope(since=START.date(), until=NOW.date())


def _json(dialect: str, value: str) -> str:
    return f"CAST({value} AS json)" if dialect == "postgresql" else value


def enrich(engine: Engine) -> None:
    """Add what the digest benchmark's data lacks and a report counts."""
    dialect = engine.dialect.name
    contacted = _epoch(dialect, "contacted_at")
    with engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO threats (case_id, position, threat) "
                f"SELECT id, 0, {_pick(f'id % {len(THREATS)}', THREATS)} FROM cases"
            )
        )
        connection.execute(
            text(
                f"INSERT INTO threats (case_id, position, threat) "
                f"SELECT id, 1, {_pick(f'(id + 3) % {len(THREATS)}', THREATS)} FROM cases "
                "WHERE id % 3 = 0"
            )
        )
        connection.execute(
            text(
                f"UPDATE cases SET "
                f"profiles = {_json(dialect, _pick(f'id % {len(PROFILES)}', PROFILES))}, "
                f"perpetrators = "
                f"{_json(dialect, _pick(f'id % {len(PERPETRATORS)}', PERPETRATORS))}, "
                "first_action_at = (SELECT min(s.completed_at) FROM checklist_steps s "
                "WHERE s.case_id = cases.id AND s.status = 'done')"
            )
        )
        connection.execute(
            text(
                f"UPDATE targets SET status = 'replied', "
                f"replied_at = {_stamp(dialect, f'{contacted} + (1 + id % 72) * 3600')} "
                "WHERE contacted_at IS NOT NULL AND id % 3 = 0"
            )
        )
    analysed(engine)


def measure(url: str, schema: str | None) -> dict[str, Any]:
    """Seconds of each timed report, without and with its chart drawn."""
    services, engine = bench_services(url, schema)
    from bot.domain.report_chart import render_png

    plain: list[float] = []
    drawn: list[float] = []
    for run in range(WARM_UP + RUNS):
        started = time.perf_counter()
        with services.transaction() as session:
            report = make_report(session, services, SCOPE)
        report_message(report)
        csv_text = report_csv(report)
        counted = time.perf_counter() - started
        png = render_png(report_chart(report))
        both = time.perf_counter() - started
        if run >= WARM_UP:
            plain.append(counted)
            drawn.append(both)
    engine.dispose()
    return {
        "plain": plain,
        "drawn": drawn,
        "cases": report.value("summary", "cases"),
        "rows": len(report.rows),
        "csv_bytes": len(csv_text.encode()),
        "png_bytes": len(png),
    }


def _filled_and_measured(url: str, schema: str | None, key: str) -> dict[str, Any]:
    engine = engine_for(url, schema)
    started = time.perf_counter()
    counts = fill(engine)
    enrich(engine)
    took = time.perf_counter() - started
    engine.dispose()
    print(f"{engine.dialect.name}: filled {counts} in {took:.1f} s", flush=True)
    result: dict[str, Any] = child("bench.report", "measure", url, schema or "-", key=key)
    assert result["cases"] == counts["cases"], "the report did not count every case"
    print(
        f"  report {spread(result['plain'])} s; with the chart {spread(result['drawn'])} s; "
        f"{result['rows']:,} rows, CSV {result['csv_bytes']:,} bytes, "
        f"PNG {result['png_bytes']:,} bytes",
        flush=True,
    )
    return result


def main(arguments: list[str]) -> int:
    if arguments[:1] == ["measure"]:
        url, schema = arguments[1], arguments[2]
        print(json.dumps(measure(url, None if schema == "-" else schema)))
        return 0
    key = generate_key()
    use_keys([key])
    sqlite, postgres = on_both_databases("report", _filled_and_measured, key)
    figures = []
    for label, result in (("SQLite", sqlite), ("PostgreSQL", postgres)):
        for kind, what in (("plain", "counts, message and CSV"), ("drawn", "with the PNG chart")):
            samples = result[kind]
            figures.append(
                Figure(
                    name=f"Report of 100k cases, {label}, {what}, p95",
                    value=percentile(samples, 95),
                    unit="s",
                    target=TARGET_S,
                    direction="max",
                    note=f"{spread(samples)} s; {RUNS} runs after {WARM_UP} warm-up, in a "
                    "process that did not fill the database",
                )
            )
    return 0 if publish(figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
