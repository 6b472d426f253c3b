"""`tocsin report`: the report on the command line, as text, CSV or JSON, and its chart."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.app import opened
from bot.connectors.console.render import render_text
from bot.domain.commands.forms import CommandError, ReportRequest
from bot.domain.commands.parsers import REPORT_PERIODS
from bot.domain.report import date_problem
from bot.domain.report_export import report_csv, report_json
from bot.domain.report_view import report_chart, report_message
from bot.errors import InputError
from bot.store.db import read_only_session
from config.settings import Settings
from handlers.report import make_report, resolve_scope


def add_report_commands(commands: Any) -> None:
    """`tocsin report`."""
    report = commands.add_parser(
        "report",
        help="counts of cases, response times, targets and measures (anonymous: 1 or 2 shown as "
        "<3, other counts rounded to 5, whole months), as text, CSV or JSON, and a chart",
    )
    report.add_argument(
        "--since", type=_date("since"), help="cases opened from this day (2026-01-01, UTC)"
    )
    report.add_argument(
        "--until", type=_date("until"), help="cases opened until this day (default today, UTC)"
    )
    report.add_argument("--country", help="one country: a code (HN) or a name")
    report.add_argument("--period", choices=REPORT_PERIODS, default="month", help="chart buckets")
    report.add_argument("--format", choices=("text", "csv", "json"), default="text")
    report.add_argument(
        "--bom", action="store_true", help="start the CSV with a byte-order mark (older Excel)"
    )
    report.add_argument("--out", metavar="FILE", help="write the report here, not to the screen")
    report.add_argument("--chart", metavar="FILE.png", help="also draw the chart into this file")
    report.set_defaults(action=_report)


def _date(name: str) -> Callable[[str], date]:
    """An argparse type: a date a report can be asked for, else one line saying why not."""

    def parsed(text: str) -> date:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a date; write it as 2026-11-20"
            ) from None
        problem = date_problem(name, day, datetime.now(UTC).date())
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return day

    return parsed


def _report(args: argparse.Namespace, settings: Settings) -> int:
    if args.bom and args.format != "csv":
        raise InputError("--bom is for --format csv")
    if args.chart and not args.chart.lower().endswith(".png"):
        raise InputError(f"--chart writes a PNG: name the file like {args.chart}.png")
    request = ReportRequest(
        since=args.since, until=args.until, country=args.country, period=args.period
    )
    with opened(settings) as app:
        try:
            scope = resolve_scope(request, app.services)
        except CommandError as error:
            raise InputError(str(error)) from None
        with read_only_session(app.services.sessions) as session:
            report = make_report(session, app.services, scope)
        where = app.services.country_name(scope.country) if scope.country else None
    if args.format == "csv":
        text = report_csv(report, bom=args.bom)
    elif args.format == "json":
        text = report_json(report)
    else:
        text = render_text(report_message(report, where=where)) + "\n"
    _write(args.out, text)
    if args.chart:
        from bot.domain.report_chart import render_png  # matplotlib only when a chart is asked for

        _write_bytes(args.chart, render_png(report_chart(report, where=where)))
        print(f"tocsin: chart written to {args.chart}", file=sys.stderr)
    return 0


def _write(name: str | None, text: str) -> None:
    if name is None:
        sys.stdout.write(text)
        return
    # newline="" keeps the CSV's CRLF line ends as they are on every system.
    _checked(name, lambda: Path(name).write_text(text, encoding="utf-8", newline=""))
    print(f"tocsin: report written to {name}", file=sys.stderr)


def _write_bytes(name: str, data: bytes) -> None:
    _checked(name, lambda: Path(name).write_bytes(data))


def _checked(name: str, write: Any) -> None:
    try:
        write()
    except OSError as error:
        raise InputError(f"cannot write '{name}': {error.strerror}") from None
