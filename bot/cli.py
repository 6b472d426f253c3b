"""The `tocsin` command: run, migrate, triage and store alerts from files or standard input."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.app import StartupError, build_application, check_schema, run, schema_is_current
from bot.connectors.console.render import render_text
from bot.domain.alert import AlertError
from bot.domain.case import Place
from bot.domain.directory import STALE_AFTER_DAYS, Contact, Directory
from bot.domain.triage import triage_json
from bot.domain.views import triage_message
from bot.store.db import create_database_engine, sqlite_file_missing
from bot.store.migrate import upgrade_to_head
from config.datafile import DataFileError
from config.settings import Settings, SettingsError, load_settings
from config.world import SupportiveGovernmentsError
from handlers.contacts import import_directory, list_contacts, stale_contacts
from handlers.intake import open_case_from_alert, triage_alert

EXIT_BAD_INPUT = 2
MAX_ALERT_BYTES = 1_000_000

log = logging.getLogger("tocsin")


class InputError(ValueError):
    """The input file is unreadable, too large or not JSON."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `tocsin` and `python -m bot`."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        return int(args.action(args, settings) or 0)
    except (SettingsError, DataFileError, SupportiveGovernmentsError) as error:
        _fail(f"configuration error: {error}")
    except StartupError as error:
        _fail(str(error))
    except (AlertError, InputError) as error:
        _fail(str(error))
    except KeyboardInterrupt:
        return 130


def _fail(message: str) -> NoReturn:
    print(f"tocsin: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tocsin", description="Urgent-action coordination for human rights defenders at risk."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run_cmd = commands.add_parser(
        "run", help="start every configured connector (the console if none)"
    )
    run_cmd.set_defaults(action=_run)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(action=_migrate)

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
    _add_contacts_commands(commands)
    return parser


def _add_contacts_commands(commands: Any) -> None:
    contacts = commands.add_parser("contacts", help="the organisation's directory").add_subparsers(
        dest="contacts_command", required=True, metavar="ACTION"
    )
    load = contacts.add_parser("import", help="add or update contacts from a YAML or CSV file")
    load.add_argument("file", nargs="?", help="directory file (default: TOCSIN_DIRECTORY)")
    load.add_argument("--replace", action="store_true", help="also remove contacts not in the file")
    load.set_defaults(action=_contacts_import)
    show = contacts.add_parser("list", help="list contacts")
    show.add_argument("--country", help="only contacts in this country (code or name)")
    show.set_defaults(action=_contacts_list)
    stale = contacts.add_parser("stale", help="contacts not verified recently")
    stale.add_argument("--days", type=int, default=STALE_AFTER_DAYS, help="default: %(default)s")
    stale.set_defaults(action=_contacts_stale)


def _run(_args: argparse.Namespace, settings: Settings) -> int:
    run(settings)
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    engine = create_database_engine(settings.database_url)
    try:
        upgrade_to_head(engine)
        check_schema(engine)
    finally:
        engine.dispose()
    print(
        f"tocsin: database is up to date ({engine.url.render_as_string(hide_password=True)})",
        file=sys.stderr,
    )
    return 0


def _triage(args: argparse.Namespace, settings: Settings) -> int:
    data = read_alert(args.file)
    app = build_application(settings, require_schema=False)
    try:
        result = triage_alert(data, app.services, _directory_if_ready(app.engine))
    finally:
        app.close()
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
    app = build_application(settings)
    try:
        view = open_case_from_alert(
            data,
            actor="cli",
            place=Place(platform="cli", address=str(args.file)),
            services=app.services,
        )
    finally:
        app.close()
    print(view.code)
    return 0


def _contacts_import(args: argparse.Namespace, settings: Settings) -> int:
    name = args.file or settings.tocsin_directory
    if name is None:
        raise InputError("name the directory file, or set TOCSIN_DIRECTORY")
    app = build_application(settings)
    try:
        summary = import_directory(Path(name), replace=args.replace, services=app.services)
    finally:
        app.close()
    print(f"{summary.added} added, {summary.updated} updated, {summary.removed} removed")
    return 0


def _contacts_list(args: argparse.Namespace, settings: Settings) -> int:
    app = build_application(settings)
    try:
        contacts = list_contacts(country=args.country, services=app.services)
        today = app.services.today()
    finally:
        app.close()
    _print_contacts(contacts, today)
    return 0


def _contacts_stale(args: argparse.Namespace, settings: Settings) -> int:
    if args.days < 0:
        raise InputError("--days must be 0 or more")
    app = build_application(settings)
    try:
        contacts = stale_contacts(days=args.days, services=app.services)
        today = app.services.today()
    finally:
        app.close()
    _print_contacts(
        contacts, today, empty=f"Every contact was verified in the last {args.days} days."
    )
    return 0


def _print_contacts(contacts: list[Contact], today: date, empty: str = "No contacts.") -> None:
    if not contacts:
        print(empty)
    for c in contacts:
        where = " ".join(part for part in (c.government and f"[{c.government}]", c.country) if part)
        print(f"{c.institution:24} {where or '-':10} {c.describe(today)}")


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
