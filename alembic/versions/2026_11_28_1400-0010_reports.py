"""Reports: when each case saw its first action, and which places get a weekly summary.

`cases.first_action_at` is the first time a step was done or a target contacted, kept on the
case so a report times 100,000 cases without reading their steps; existing cases take the
earliest of their done steps. `destinations.next_weekly_report_at` is when a place's weekly
summary is due: NULL (the default) means the place has not asked for one.

Revision ID: 0010_reports
Revises: 0009_digest_indexes
Create Date: 2026-11-28 14:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_reports"
down_revision: str | None = "0009_digest_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("first_action_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "destinations",
        sa.Column("next_weekly_report_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE cases SET first_action_at = (SELECT min(s.completed_at) FROM checklist_steps s "
        "WHERE s.case_id = cases.id AND s.status = 'done')"
    )


def downgrade() -> None:
    op.drop_column("destinations", "next_weekly_report_at")
    op.drop_column("cases", "first_action_at")
