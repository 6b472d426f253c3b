"""`tocsin run` and `tocsin migrate`: serve, and bring the database schema up to date."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.app import check_schema, run
from bot.cli.keys import ensure_data_key
from bot.store.data_keys import reseal
from bot.store.db import create_database_engine
from bot.store.migrate import upgrade_to_head
from bot.store.sealing import use_keys
from config.settings import Settings


def add_service_commands(commands: Any) -> None:
    """`tocsin run` and `tocsin migrate`."""
    run_cmd = commands.add_parser(
        "run", help="start every configured connector (the console if none)"
    )
    run_cmd.set_defaults(action=_run)
    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(action=_migrate)


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
