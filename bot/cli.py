"""The `tocsin` command: run, migrate, triage and store alerts from files or standard input."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.app import check_schema, opened, run, schema_is_current
from bot.cli_audit import add_audit_commands
from bot.cli_contacts import add_contacts_commands
from bot.cli_draft import add_draft_commands
from bot.cli_keys import add_keys_commands, ensure_data_key
from bot.cli_matrix import add_matrix_commands
from bot.cli_outbox import add_outbox_commands
from bot.cli_partners import add_partners_commands
from bot.cli_report import add_report_commands
from bot.cli_schedule import add_schedule_commands
from bot.connectors.console.render import render_text
from bot.domain.alert import AlertError
from bot.domain.case import Place
from bot.domain.directory import Directory
from bot.domain.triage import triage_json
from bot.domain.views import triage_message
from bot.errors import InputError, StartupError
from bot.store.data_keys import reseal
from bot.store.db import create_database_engine, sqlite_file_missing
from bot.store.migrate import upgrade_to_head
from bot.store.sealing import use_keys
from config.datafile import DataFileError
from config.settings import Settings, SettingsError, load_settings
from config.world import SupportiveGovernmentsError
from handlers.intake import open_case_from_alert, triage_alert

EXIT_BAD_INPUT = 2
MAX_ALERT_BYTES = 1_000_000

log = logging.getLogger("tocsin")


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
    add_contacts_commands(commands)
    add_schedule_commands(commands)
    add_matrix_commands(commands)
    add_keys_commands(commands)
    add_audit_commands(commands)
    add_outbox_commands(commands)
    add_report_commands(commands)
    add_draft_commands(commands)
    add_partners_commands(commands)
    return parser


def _run(_args: argparse.Namespace, settings: Settings) -> int:
    run(settings)
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    settings = ensure_data_key(settings)
    use_keys(settings.data_keys)
    engine = create_database_engine(settings.database_url)
    try:
        upgrade_to_head(engine)
        check_schema(engine)
        sealed = reseal(engine, clear_only=True)
        if sealed:
            print(f"tocsin: {sealed} values stored in clear are now encrypted", file=sys.stderr)
    finally:
        engine.dispose()
    print(
        f"tocsin: database is up to date ({engine.url.render_as_string(hide_password=True)})",
        file=sys.stderr,
    )
    return 0


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
