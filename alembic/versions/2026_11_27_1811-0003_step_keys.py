"""Record which playbook step each checklist step came from.

Revision ID: 0003_step_keys
Revises: 0002_contacts
Create Date: 2026-11-27 18:11:26.772292+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_step_keys"
down_revision: str | None = "0002_contacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checklist_steps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key", sa.String(length=60), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("checklist_steps", schema=None) as batch_op:
        batch_op.drop_column("key")
