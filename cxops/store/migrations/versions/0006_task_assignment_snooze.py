"""Tasks can be reassigned and snoozed, and carry their rule's playbook steps.

- `assignment`: how many times the task was reassigned; task links carry it, so a link
  sent to an earlier assignee stops working once the task has moved on.
- `snoozed_at` / `snoozed_until`: the latest snooze (the task leaves digests and does not
  escalate while `now < snoozed_until`); `snoozed_seconds`: the time of earlier snoozes,
  so the loop measures can report snoozed time apart.
- `steps` / `steps_done`: the rule's `steps:` when the task was made, and which are ticked.

Revision ID: 0006_task_assignment_snooze
Revises: 0005_interviews
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006_task_assignment_snooze"
down_revision: str | None = "0005_interviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("assignment", "snoozed_at", "snoozed_until", "snoozed_seconds", "steps", "steps_done")


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has some or all already.
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("tasks")}
    wanted: list[sa.Column[Any]] = [
        sa.Column("assignment", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("snoozed_at", sa.DateTime(timezone=True)),
        sa.Column("snoozed_until", sa.DateTime(timezone=True)),
        sa.Column("snoozed_seconds", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("steps", sa.JSON(), nullable=True),
        sa.Column("steps_done", sa.JSON(), nullable=True),
    ]
    missing = [column for column in wanted if column.name not in present]
    if not missing:
        return
    with op.batch_alter_table("tasks") as batch:
        for column in missing:
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
