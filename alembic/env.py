"""Alembic environment: runs on the engine Tocsin hands it, or on DATABASE_URL from settings."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Engine

from bot.store.db import create_database_engine
from bot.store.models import Base
from bot.store.sealing import SealedJSON, SealedText
from bot.store.types import UTCDateTime


def _engine() -> Engine:
    engine = context.config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    from config.settings import load_settings

    return create_database_engine(load_settings().database_url)


def _render_item(kind: str, item: Any, _autogen_context: Any) -> str | Literal[False]:
    """Write our column types as the plain types they store, so migrations never import
    application code."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(item, SealedText | SealedJSON):
        return "sa.Text()"
    return False


def run_migrations() -> None:
    """Run migrations online; render_as_batch lets SQLite alter tables."""
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,
            compare_type=True,
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
