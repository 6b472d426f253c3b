"""The `tocsin` command: one module per verb group (`service`: run and migrate, `alerts`:
triage and alert new, then audit, contacts, draft, keys, matrix, outbox, partners, report and
upcoming); each adds its verbs to the parser, with the function each verb runs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from bot.cli.alerts import add_alert_commands
from bot.cli.audit import add_audit_commands
from bot.cli.contacts import add_contacts_commands
from bot.cli.draft import add_draft_commands
from bot.cli.keys import add_keys_commands
from bot.cli.matrix import add_matrix_commands
from bot.cli.outbox import add_outbox_commands
from bot.cli.partners import add_partners_commands
from bot.cli.report import add_report_commands
from bot.cli.service import add_service_commands
from bot.cli.upcoming import add_upcoming_commands
from bot.domain.alert import AlertError
from bot.errors import InputError, StartupError
from config.datafile import DataFileError
from config.settings import SettingsError, load_settings
from config.world import SupportiveGovernmentsError

EXIT_BAD_INPUT = 2


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
    for add_commands in (
        add_service_commands,
        add_alert_commands,
        add_contacts_commands,
        add_upcoming_commands,
        add_matrix_commands,
        add_keys_commands,
        add_audit_commands,
        add_outbox_commands,
        add_report_commands,
        add_draft_commands,
        add_partners_commands,
    ):
        add_commands(commands)
    return parser
