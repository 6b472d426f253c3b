"""Audit events name the device a command came from and how it was trusted.

Revision ID: 0013_audit_device
Revises: 0012_draft_facts
Create Date: 2026-12-03 16:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_audit_device"
down_revision: str | None = "0012_draft_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("device", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("device_trust", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_column("device_trust")
        batch_op.drop_column("device")
