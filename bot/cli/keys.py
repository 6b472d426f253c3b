"""`tocsin keys new|rotate`, and the data key a first start creates."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.errors import StartupError
from bot.store.data_keys import reseal
from bot.store.db import create_database_engine
from bot.store.sealing import generate_key, use_keys
from config.settings import Settings

ENV_FILE = Path(".env")


def add_keys_commands(commands: Any) -> None:
    """`tocsin keys new` and `tocsin keys rotate`."""
    keys = commands.add_parser("keys", help="the key that encrypts case files").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    keys.add_parser("new", help="print a new data key").set_defaults(action=_new)
    keys.add_parser(
        "rotate",
        help="re-encrypt everything under the first key of TOCSIN_DATA_KEY (list new,old)",
    ).set_defaults(action=_rotate)


def ensure_data_key(settings: Settings, env_file: Path = ENV_FILE) -> Settings:
    """The settings with a data key: outside production, a first start makes one into `.env`."""
    if settings.data_keys:
        return settings
    if settings.tocsin_env == "production":
        raise StartupError(
            "TOCSIN_DATA_KEY is not set, and production needs the key that encrypts the case "
            "files: make one with 'tocsin keys new', keep it apart from the database and its "
            "backups, and set it"
        )
    key = generate_key()
    descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as out:
        out.write("\n# Encrypts the case files. Back it up apart from the database.\n")
        out.write(f"TOCSIN_DATA_KEY={key}\n")
    env_file.chmod(0o600)
    print(
        f"tocsin: no TOCSIN_DATA_KEY was set, so a new one was written to {env_file}. Back it up "
        "apart from the database: without it the case files cannot be read.",
        file=sys.stderr,
    )
    return settings.model_copy(update={"tocsin_data_key": SecretStr(key)})


def _new(_args: argparse.Namespace, _settings: Settings) -> int:
    print(generate_key())
    return 0


def _rotate(_args: argparse.Namespace, settings: Settings) -> int:
    if not settings.data_keys:
        raise StartupError("TOCSIN_DATA_KEY is not set: set it to new,old to rotate")
    use_keys(settings.data_keys)
    engine = create_database_engine(settings.database_url)
    try:
        count = reseal(engine, clear_only=False)
    finally:
        engine.dispose()
    print(
        f"tocsin: {count} values re-encrypted under the first key; the others can now be removed "
        "from TOCSIN_DATA_KEY",
        file=sys.stderr,
    )
    return 0
