"""`tocsin triage` and `tocsin alert new`: an alert from a file or standard input, routed
(writing nothing) or stored as a new case."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.app import opened, schema_is_current
from bot.connectors.console.render import render_text
from bot.domain.directory import Directory
from bot.domain.places import Place
from bot.domain.triage import triage_json
from bot.domain.views import triage_message
from bot.errors import InputError
from bot.store.db import sqlite_file_missing
from config.settings import Settings
from handlers.intake import open_case_from_alert, triage_alert

MAX_ALERT_BYTES = 1_000_000

log = logging.getLogger("tocsin")


def add_alert_commands(commands: Any) -> None:
    """`tocsin triage FILE` and `tocsin alert new FILE`."""
    triage_cmd = commands.add_parser(
        "triage", help="print the case an alert would open; writes nothing"
    )
    triage_cmd.add_argument("file", help="alert JSON file, or - for standard input")
    triage_cmd.add_argument("--json", action="store_true", help="print JSON for scripts")
    triage_cmd.set_defaults(action=_triage)

    alert = commands.add_parser("alert", help="work with alerts").add_subparsers(
        dest="alert_command", required=True, metavar="ACTION"
    )
    alert_new = alert.add_parser("new", help="store an alert as a new case and print its code")
    alert_new.add_argument("file", help="alert JSON file, or - for standard input")
    alert_new.set_defaults(action=_alert_new)


def _triage(args: argparse.Namespace, settings: Settings) -> int:
    data = read_alert(args.file)
    with opened(settings, require_schema=False) as app:
        result = triage_alert(data, app.services, _directory_if_ready(app.engine))
    if args.json:
        print(json.dumps(triage_json(result), ensure_ascii=False, indent=2))
    else:
        print(render_text(triage_message(result)))
    return 0


def _directory_if_ready(engine: Engine) -> Directory | None:
    """None (read from the database) once it is set up; empty before, so triage writes nothing."""
    try:
        if not sqlite_file_missing(engine) and schema_is_current(engine):
            return None
    except OperationalError as error:
        log.warning("routing without the directory: the database is unreachable (%s)", error.orig)
    return Directory()


def _alert_new(args: argparse.Namespace, settings: Settings) -> int:
    data = read_alert(args.file)
    with opened(settings) as app:
        place = Place(platform="cli", address=str(args.file))
        view = open_case_from_alert(data, actor="cli", place=place, services=app.services)
    print(view.code)
    return 0


def read_alert(name: str) -> Any:
    """The JSON alert in the file (or standard input for '-'), size-limited."""
    try:
        if name == "-":
            raw = sys.stdin.buffer.read(MAX_ALERT_BYTES + 1)
        else:
            with Path(name).open("rb") as handle:
                raw = handle.read(MAX_ALERT_BYTES + 1)
    except OSError as error:
        raise InputError(f"cannot read '{name}': {error.strerror}") from None
    if len(raw) > MAX_ALERT_BYTES:
        raise InputError(
            f"'{name}' is larger than {MAX_ALERT_BYTES:,} bytes; an alert is much smaller"
        )
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"'{name}' is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"'{name}' is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
