"""A wave's pause: the deliverability breaker's trip, kept on the wave's row.

`waves.paused_at` (UTC; NULL: not paused), `waves.pause_reason` ("bounce rate",
"complaint rate") and `waves.pause_figures` (what the breaker counted) say when and why
a wave stopped claiming; `waves.resumed_at` is when a person last resumed it (`cxops run
SURVEY --wave W --resume`): from then, the breaker judges the messages sent since. The
reason and figures of the last pause stay after a resume. An index on
`webhook_events.received_at` lets the breaker read only the events received since the
wave started (received times only grow: the index is written at its end).

Revision ID: 0018_wave_pause
Revises: 0017_due_sends
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_wave_pause"
down_revision: str | None = "0017_due_sends"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_webhook_events_received_at"


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has them already.
    inspector = sa.inspect(op.get_bind())
    columns = {column["name"] for column in inspector.get_columns("waves")}
    if "paused_at" not in columns:
        op.add_column("waves", sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
    if "pause_reason" not in columns:
        op.add_column("waves", sa.Column("pause_reason", sa.String(64), nullable=True))
    if "pause_figures" not in columns:
        op.add_column("waves", sa.Column("pause_figures", sa.JSON(), nullable=True))
    if "resumed_at" not in columns:
        op.add_column("waves", sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True))
    if INDEX not in {index["name"] for index in inspector.get_indexes("webhook_events")}:
        op.create_index(INDEX, "webhook_events", ["received_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="webhook_events")
    with op.batch_alter_table("waves") as batch:
        batch.drop_column("resumed_at")
        batch.drop_column("pause_figures")
        batch.drop_column("pause_reason")
        batch.drop_column("paused_at")
