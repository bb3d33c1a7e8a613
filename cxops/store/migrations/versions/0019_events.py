"""Events posted to the collector, and the API keys that may post them.

`inbound_events`: one row per event received on `POST /api/v1/events`, unique by the
sender's `event_id` (a redelivered event is stored once), with its `type`, when it
happened and was received, its `data` (JSON) and the `credential` that sent it
(`key:NAME` or `webhook`). `api_keys`: keys by unique `name`, kept as a keyed hash
(`key_hash`), optionally meant for one `survey_id`, with `created_at` and `revoked_at`.

Revision ID: 0019_events
Revises: 0018_wave_pause
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_events"
down_revision: str | None = "0018_wave_pause"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has them already.
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "inbound_events" not in tables:
        op.create_table(
            "inbound_events",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("event_id", sa.String(255), nullable=False),
            sa.Column("type", sa.String(255), nullable=False),
            _time("occurred_at"),
            _time("received_at"),
            sa.Column("data", sa.JSON(), nullable=False),
            sa.Column("credential", sa.String(140), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_inbound_events"),
            sa.UniqueConstraint("event_id", name="uq_inbound_events_event_id"),
        )
        op.create_index("ix_inbound_events_type", "inbound_events", ["type"])
    if "api_keys" not in tables:
        op.create_table(
            "api_keys",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("name", sa.String(128), nullable=False),
            sa.Column("key_hash", sa.String(64), nullable=False),
            sa.Column("survey_id", sa.String(64), nullable=True),
            _time("created_at"),
            _time("revoked_at", nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
            sa.UniqueConstraint("name", name="uq_api_keys_name"),
            sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index("ix_inbound_events_type", table_name="inbound_events")
    op.drop_table("inbound_events")
