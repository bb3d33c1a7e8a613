"""SendGrid events: malformed items kept aside (`webhook_rejects`), what each event did
(`webhook_events.detail`), and sends found by the provider's message id.

One malformed item no longer fails its batch: the valid events are applied and the
others kept here with the reason. Events that carry only `sg_message_id` reach their
send through `ix_sends_provider_id`.

Revision ID: 0007_webhook_rejects
Revises: 0006_task_assignment_snooze
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_webhook_rejects"
down_revision: str | None = "0006_task_assignment_snooze"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has all of it already.
    inspector = sa.inspect(op.get_bind())
    if "webhook_rejects" not in inspector.get_table_names():
        op.create_table(
            "webhook_rejects",
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=True,
                nullable=False,
            ),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("reason", sa.String(255), nullable=False),
            sa.Column("item", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_rejects")),
        )
    if "detail" not in {c["name"] for c in inspector.get_columns("webhook_events")}:
        op.add_column("webhook_events", sa.Column("detail", sa.String(400)))
    if "ix_sends_provider_id" not in {i["name"] for i in inspector.get_indexes("sends")}:
        op.create_index("ix_sends_provider_id", "sends", ["provider_id"])


def downgrade() -> None:
    op.drop_index("ix_sends_provider_id", table_name="sends")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("detail")
    op.drop_table("webhook_rejects")
