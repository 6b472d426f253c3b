"""Bind destinations with roles and a disclosure level, and mark erased cases.

Revision ID: 0007_access_and_retention
Revises: 0006_sealed_fields
Create Date: 2026-11-27 23:50:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007_access_and_retention"
down_revision: str | None = "0006_sealed_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("destinations") as batch_op:
        batch_op.add_column(sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("bound_by", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("disclosure", sa.String(length=10), nullable=True))
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "destination_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("granted_by", sa.String(length=320), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["destinations.id"],
            name=op.f("fk_destination_roles_destination_id_destinations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destination_roles")),
        sa.UniqueConstraint("destination_id", "principal", name="uq_destination_roles_principal"),
    )
    op.create_index(
        op.f("ix_destination_roles_destination_id"), "destination_roles", ["destination_id"]
    )
    # Rooms a team already used before access control stay usable after the upgrade.
    destinations = sa.table(
        "destinations",
        sa.column("bound_at", sa.DateTime(timezone=True)),
        sa.column("bound_by", sa.String()),
    )
    op.execute(destinations.update().values(bound_at=datetime.now(UTC), bound_by="upgrade to 0007"))


def downgrade() -> None:
    op.drop_index(op.f("ix_destination_roles_destination_id"), table_name="destination_roles")
    op.drop_table("destination_roles")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("destinations") as batch_op:
        batch_op.drop_column("disclosure")
        batch_op.drop_column("bound_by")
        batch_op.drop_column("bound_at")
