"""Add the outbox (messages written with their change, delivered with retries); source ids unique.

Revision ID: 0008_outbox
Revises: 0007_access_and_retention
Create Date: 2026-11-28 00:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_outbox"
down_revision: str | None = "0007_access_and_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("case_code", sa.String(length=20), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_outbox_case_code"), "outbox", ["case_code"])
    # An alert's source id opens one case, however often it arrives.
    op.drop_index("ix_cases_source_external_id", table_name="cases")
    op.create_index("ix_cases_source_external_id", "cases", ["source_external_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_cases_source_external_id", table_name="cases")
    op.create_index("ix_cases_source_external_id", "cases", ["source_external_id"])
    op.drop_index(op.f("ix_outbox_case_code"), table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
