"""Keep the scheduler's state in the database: reminders, digests, measures, origins.

Revision ID: 0004_scheduling
Revises: 0003_step_keys
Create Date: 2026-11-27 18:23:31.239548+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_scheduling"
down_revision: str | None = "0003_step_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("origin_platform", sa.String(length=20), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("origin_address", sa.String(length=300), server_default="", nullable=False)
        )

    with op.batch_alter_table("checklist_steps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminders_sent", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("measure_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_checklist_steps_next_reminder_at"), ["next_reminder_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_checklist_steps_measure_id_measures"),
            "measures",
            ["measure_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_digest_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("is_lead", sa.Boolean(), server_default="0", nullable=False))
        batch_op.create_index(
            batch_op.f("ix_destinations_next_digest_at"), ["next_digest_at"], unique=False
        )

    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("institution", sa.String(length=120), server_default="", nullable=False)
        )

    # Steps already open on open cases are reminded from their due time on.
    op.execute(
        "UPDATE checklist_steps SET next_reminder_at = due_at WHERE status = 'open' "
        "AND case_id IN (SELECT id FROM cases WHERE status = 'open')"
    )


def downgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_column("institution")

    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("decided_on")

    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_destinations_next_digest_at"))
        batch_op.drop_column("is_lead")
        batch_op.drop_column("next_digest_at")

    with op.batch_alter_table("checklist_steps", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_checklist_steps_measure_id_measures"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_checklist_steps_next_reminder_at"))
        batch_op.drop_column("measure_id")
        batch_op.drop_column("next_reminder_at")
        batch_op.drop_column("reminders_sent")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("origin_address")
        batch_op.drop_column("origin_platform")
