"""Indexes for the daily digest, so that it reads each section from an index.

With 100,000 cases and 1,000,000 steps the digest loaded every open case with all its steps and
targets. It now walks the open cases in opening order (`(status, created_at)`, with the columns
the digest reads, which replaces the index on status alone) and, for each, probes an index of its open steps (partial: only
steps whose status is open, with the columns the digest shows), one of its steps' assignees
(`(case_id, assignee)`) and one of its targets' institutions (`(case_id, institution)`); the
last two replace the indexes on case_id alone. The cases opened in the last day come from an
index on `created_at`.

Revision ID: 0009_digest_indexes
Revises: 0008_outbox
Create Date: 2026-11-28 12:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_digest_indexes"
down_revision: str | None = "0008_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")
OPEN_CASES = ["status", "created_at", "id", "code", "country"]
OPEN_STEPS = ["case_id", "due_at", "n", "measure_id", "assignee", "owner_role", "id"]


def upgrade() -> None:
    op.create_index("ix_cases_status_created_at", "cases", OPEN_CASES)
    op.drop_index("ix_cases_status", table_name="cases")
    op.create_index("ix_cases_created_at", "cases", ["created_at"])
    op.create_index(
        "ix_checklist_steps_open",
        "checklist_steps",
        OPEN_STEPS,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index(
        "ix_checklist_steps_case_id_assignee", "checklist_steps", ["case_id", "assignee"]
    )
    op.drop_index("ix_checklist_steps_case_id", table_name="checklist_steps")
    op.create_index("ix_targets_case_id_institution", "targets", ["case_id", "institution"])
    op.drop_index("ix_targets_case_id", table_name="targets")


def downgrade() -> None:
    op.create_index("ix_targets_case_id", "targets", ["case_id"])
    op.drop_index("ix_targets_case_id_institution", table_name="targets")
    op.create_index("ix_checklist_steps_case_id", "checklist_steps", ["case_id"])
    op.drop_index("ix_checklist_steps_case_id_assignee", table_name="checklist_steps")
    op.drop_index("ix_checklist_steps_open", table_name="checklist_steps")
    op.drop_index("ix_cases_created_at", table_name="cases")
    op.create_index("ix_cases_status", "cases", ["status"])
    op.drop_index("ix_cases_status_created_at", table_name="cases")
