"""Outbound webhooks: the endpoints' scan cursors and the deliveries outbox.

`webhook_endpoints`: one row per configured endpoint (its cursor, when it was first
configured, whether a 410 disabled it). `webhook_deliveries`: one row per (endpoint,
event), with its stable delivery id, payload, attempts and next attempt. An index on
`responses.updated_at` lets the scan read only what changed since its cursor.

Revision ID: 0021_webhooks
Revises: 0020_trigger_dedupe
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_webhooks"
down_revision: str | None = "0020_trigger_dedupe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has them already.
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "webhook_endpoints" not in tables:
        op.create_table(
            "webhook_endpoints",
            sa.Column("name", sa.String(400), nullable=False),
            _time("created_at"),
            _time("scanned_until"),
            _time("disabled_at", nullable=True),
            sa.Column("disabled_reason", sa.Text(), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("name", name="pk_webhook_endpoints"),
        )
    if "webhook_deliveries" not in tables:
        op.create_table(
            "webhook_deliveries",
            sa.Column("id", ID, autoincrement=True, nullable=False),
            sa.Column("delivery_id", sa.String(64), nullable=False),
            sa.Column("endpoint", sa.String(400), nullable=False),
            sa.Column("event_key", sa.String(400), nullable=False),
            sa.Column("type", sa.String(32), nullable=False),
            sa.Column("contact_key", sa.String(255), nullable=True),
            sa.Column("payload", sa.JSON(), nullable=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            _time("next_attempt_at"),
            sa.Column("last_error", sa.Text(), nullable=True),
            _time("created_at"),
            _time("delivered_at", nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
            sa.UniqueConstraint("delivery_id", name="uq_webhook_deliveries_delivery_id"),
            sa.UniqueConstraint(
                "endpoint", "event_key", name="uq_webhook_deliveries_endpoint_event"
            ),
        )
        op.create_index(
            "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
        )
        op.create_index("ix_webhook_deliveries_contact_key", "webhook_deliveries", ["contact_key"])
    indexes = {index["name"] for index in inspector.get_indexes("responses")}
    if "ix_responses_updated_at" not in indexes:
        op.create_index("ix_responses_updated_at", "responses", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_responses_updated_at", table_name="responses")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
