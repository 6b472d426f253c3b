"""The data keys over a whole database: seal what was stored in clear, rotate, check at start."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import Column, Engine, Table, Text

from bot.store.models import Base
from bot.store.sealing import DataKeyError, SealedJSON, SealedText, is_sealed, keyring


def sealed_columns() -> Iterator[tuple[Table, Column[object]]]:
    """Every column the models store encrypted."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, SealedText | SealedJSON):
                yield table, column


def reseal(engine: Engine, *, clear_only: bool) -> int:
    """Seal under the first key every stored value in clear (`clear_only`), or every value (a
    rotation); the number of values rewritten. One transaction: all or nothing."""
    ring = keyring()
    rewritten = 0
    with engine.begin() as connection:
        for table, column in sealed_columns():
            raw = sa.type_coerce(column, Text)  # the stored text, not opened
            rows = connection.execute(sa.select(table.c.id, raw).where(raw.is_not(None))).all()
            for row_id, stored in rows:
                if clear_only and is_sealed(stored):
                    continue
                connection.execute(
                    sa.update(table)
                    .where(table.c.id == row_id)
                    .values({column.name: sa.type_coerce(ring.reseal(stored), Text)})
                )
                rewritten += 1
    return rewritten


def check_keys(engine: Engine) -> None:
    """Raise DataKeyError when the keys in use cannot open what is stored (a wrong key)."""
    ring = keyring()
    with engine.connect() as connection:
        for _table, column in sealed_columns():
            raw = sa.type_coerce(column, Text)
            query = sa.select(raw).where(raw.like("gAAAAA%")).limit(1)
            stored = connection.execute(query).scalar()
            if stored is not None:
                ring.open(str(stored))
                return


__all__ = ["DataKeyError", "check_keys", "reseal", "sealed_columns"]
