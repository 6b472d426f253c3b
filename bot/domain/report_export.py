"""A report as CSV or JSON: one long table, the same in both, documented in the README.

Columns: `section` (summary, by_country, by_threat, by_profile, by_perpetrator, by_severity,
by_outcome, cases_by_period, time_to_first_action, time_to_close, targets, targets_by_category,
measures, and `scope` for what the report covers), `key` (a stable code: HN, death_threat,
2026-03-01/all, embassy:CA …), `label` (the same in words), `measure` (cases, median_hours,
p90_hours, proposed, contacted, answered, median_reply_hours, requested, granted, lifted,
rejected; for scope rows: date, text, number) and `value` (a count rounded to the nearest 5,
"<3" for a count of 1 or 2, hours, or empty when there are too few cases to give a time). A row
is missing where, with the others, it would give a small count away. Dates are ISO 8601, times
UTC; the range covers whole months (or weeks)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.domain.report import ROUNDING, SMALL_CELL, Report, Row

COLUMNS = ("section", "key", "label", "measure", "value")
BOM = "\ufeff"
# A spreadsheet runs a cell that starts with one of these as a formula: such text is quoted.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def scope_rows(report: Report) -> list[Row]:
    """What the report covers, as rows of the same table."""
    scope = report.scope
    generated = report.generated_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return [
        Row("scope", "since", "Cases opened from", "date", scope.since.isoformat()),
        Row("scope", "until", "Cases opened until", "date", scope.until.isoformat()),
        Row("scope", "country", "Country", "text", scope.country or "all"),
        Row("scope", "period", "Chart period", "text", scope.period),
        Row("scope", "generated_at", "Generated at (UTC)", "date", generated),
        Row("scope", "small_cell", "Counts under this are shown as <3", "number", SMALL_CELL),
        Row("scope", "rounding", "Other counts are rounded to a multiple of", "number", ROUNDING),
    ]


def report_csv(report: Report, *, bom: bool = False) -> str:
    """The table as CSV text (with a byte-order mark for spreadsheets that need it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in (*scope_rows(report), *report.rows):
        writer.writerow([_safe(str(getattr(row, column))) for column in COLUMNS])
    return (BOM if bom else "") + out.getvalue()


def _safe(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def report_json(report: Report) -> str:
    """The table as JSON: `scope` as an object, `rows` as objects with the CSV's columns."""
    data: dict[str, Any] = {
        "scope": {row.key: row.value for row in scope_rows(report)},
        "columns": list(COLUMNS),
        "rows": [{column: getattr(row, column) for column in COLUMNS} for row in report.rows],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
