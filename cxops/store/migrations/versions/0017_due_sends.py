"""Sends that wait: `sends.not_before` and `sends.held`.

A ledger row may carry the earliest time it may leave (`not_before`, UTC; NULL: due at
once, as every row before this revision) and the reason it waits (`held`: the gate that
held it back, e.g. "send window", "quota round"). Claims take only due rows; `cxops
send-due` sends the due rows of every survey. Both columns are nullable and added
without a rewrite; `ix_sends_pending` (partial: pending rows only) finds the steps with
rows due or waiting.

Revision ID: 0017_due_sends
Revises: 0016_task_notes
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_due_sends"
down_revision: str | None = "0016_task_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has them already.
    columns = _columns("sends")
    if "not_before" not in columns:
        op.add_column("sends", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    if "held" not in columns:
        op.add_column("sends", sa.Column("held", sa.String(64), nullable=True))
    indexes = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("sends")}
    if "ix_sends_pending" not in indexes:
        # The steps with rows due or waiting (`send-due`, `status`): pending rows only, so
        # a claimed row leaves it and the index stays the size of what waits.
        pending = sa.text("status = 'pending'")
        op.create_index(
            "ix_sends_pending",
            "sends",
            ["survey_id", "wave_id", "step", "not_before"],
            postgresql_where=pending,
            sqlite_where=pending,
        )


def downgrade() -> None:
    op.drop_index("ix_sends_pending", table_name="sends")
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("held")
        batch.drop_column("not_before")
