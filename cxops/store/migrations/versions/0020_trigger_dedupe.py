"""Stored events become invitations of triggered surveys, once.

`trigger_dedupe`: one row per (survey_id, dedupe value) ever invited, with the event
and the ledger row (`send_id`) it made. `trigger_processed`: one row per (survey_id,
inbound event) a survey has looked at, with the `outcome`, so no run looks again.

Revision ID: 0020_trigger_dedupe
Revises: 0019_events
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_trigger_dedupe"
down_revision: str | None = "0019_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has them already.
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "trigger_dedupe" not in tables:
        op.create_table(
            "trigger_dedupe",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("survey_id", sa.String(64), nullable=False),
            sa.Column("dedupe", sa.String(255), nullable=False),
            sa.Column("event_id", sa.String(255), nullable=False),
            sa.Column("send_id", sa.String(32), nullable=False),
            _time("created_at"),
            sa.PrimaryKeyConstraint("id", name="pk_trigger_dedupe"),
            sa.UniqueConstraint("survey_id", "dedupe", name="uq_trigger_dedupe_survey_id_dedupe"),
        )
    if "trigger_processed" not in tables:
        op.create_table(
            "trigger_processed",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("survey_id", sa.String(64), nullable=False),
            sa.Column("event_id", ID, nullable=False),
            sa.Column("outcome", sa.String(255), nullable=False),
            _time("processed_at"),
            sa.ForeignKeyConstraint(
                ["event_id"],
                ["inbound_events.id"],
                name="fk_trigger_processed_event_id_inbound_events",
            ),
            sa.PrimaryKeyConstraint("id", name="pk_trigger_processed"),
            sa.UniqueConstraint(
                "survey_id", "event_id", name="uq_trigger_processed_survey_id_event"
            ),
        )


def downgrade() -> None:
    op.drop_table("trigger_processed")
    op.drop_table("trigger_dedupe")
