"""Store the fields that identify a defender or tell their story as encrypted text.

The columns become text (Fernet tokens are longer than the old limits, and the audit details are
sealed JSON). Existing values stay readable as they are; `tocsin migrate` then seals them.

Revision ID: 0006_sealed_fields
Revises: 0005_posted_messages
Create Date: 2026-11-27 22:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_sealed_fields"
down_revision: str | None = "0005_posted_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TO_TEXT = {
    "cases": {"source_reported_by": sa.String(length=500)},
    "defenders": {
        "name": sa.String(length=500),
        "organisation": sa.String(length=500),
        "gender": sa.String(length=500),
    },
}


def upgrade() -> None:
    for table, columns in _TO_TEXT.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, old in columns.items():
                batch_op.alter_column(column, existing_type=old, type_=sa.Text())
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column(
            "detail",
            existing_type=sa.JSON(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="detail::text",
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column(
            "detail",
            existing_type=sa.Text(),
            type_=sa.JSON(),
            existing_nullable=False,
            postgresql_using="detail::json",
        )
    for table, columns in _TO_TEXT.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, old in columns.items():
                batch_op.alter_column(column, existing_type=sa.Text(), type_=old)
