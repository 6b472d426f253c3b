"""Draft facts: what UN submissions and precautionary-measure requests ask for (sealed text).

Revision ID: 0012_draft_facts
Revises: 0011_partners
Create Date: 2026-11-28 17:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_draft_facts"
down_revision: str | None = "0011_partners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CASE_COLUMNS = ("place", "domestic_actions", "earlier_incidents")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        for column in _CASE_COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Text(), nullable=True))
    with op.batch_alter_table("defenders") as batch_op:
        batch_op.add_column(sa.Column("work", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("defenders") as batch_op:
        batch_op.drop_column("work")
    with op.batch_alter_table("cases") as batch_op:
        for column in reversed(_CASE_COLUMNS):
            batch_op.drop_column(column)
