"""Alembic environment: runs on the engine Tocsin hands it, or on DATABASE_URL from settings."""

from __future__ import annotations

from sqlalchemy import Engine

from alembic import context
from bot.store.db import create_database_engine
from bot.store.models import Base


def _engine() -> Engine:
    engine = context.config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    from config.settings import load_settings

    return create_database_engine(load_settings().database_url)


def run_migrations() -> None:
    """Run migrations online; render_as_batch lets SQLite alter tables."""
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
