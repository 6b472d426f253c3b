"""Bring the database schema to the newest Alembic revision.

Alembic (and Mako, which it pulls in) is imported only to migrate: `tocsin run` checks the
revision with one query against `SCHEMA_HEAD`, which keeps start-up fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"
# The newest revision under alembic/versions; a test checks that Alembic agrees.
SCHEMA_HEAD = "0013_audit_device"


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that runs on this engine, wherever the command is started."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every migration not yet applied; a no-op on an up-to-date database."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if revision is None else str(revision)


def head_revision() -> str | None:
    """The newest revision the migrations folder holds, as Alembic reads it."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()
