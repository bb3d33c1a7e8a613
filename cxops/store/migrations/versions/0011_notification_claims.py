"""Notification claims get an owner: `claim_id` and `claimed_at`, and a `sending` status.

Before, a digest, escalation or assignment email was `pending` from its claim until the
channel's answer was recorded, so a run that died in between left a row nobody could
read: it might have been handed to the channel or not, and the next run skipped it as
already sent. Now `pending` means claimed and not yet handed to a channel (a dead
run's such claim is claimed again), `sending` that it was handed over (a dead run's
such claim is in doubt, reported and not sent again unless asked); `claim_id`
(`host:pid:uuid`) tells a dead run's claim from a live one's.

Rows claimed before this revision have no owner: an email left `pending` then may
have left, so it becomes `in_doubt` (error says why); a webhook left `pending` goes
back to `retry` (webhooks are delivered at least once, under one delivery id that
receivers deduplicate). Downgrading drops the columns; `sending` rows stay and the
older code treats them as handled.

Revision ID: 0011_notification_claims
Revises: 0010_responses_contact_index
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_notification_claims"
down_revision: str | None = "0010_responses_contact_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNOWNED = "claimed before cxops recorded claim owners; it may have been sent"


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has the columns already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("notifications")}
    if "claim_id" not in columns:
        op.add_column("notifications", sa.Column("claim_id", sa.String(128), nullable=True))
    if "claimed_at" not in columns:
        op.add_column(
            "notifications", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True)
        )
    notifications = sa.table(
        "notifications",
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("error", sa.Text),
        sa.column("claim_id", sa.String),
    )
    unowned = (notifications.c.status == "pending", notifications.c.claim_id.is_(None))
    op.execute(
        notifications.update()
        .where(*unowned, notifications.c.kind == "webhook")
        .values(status="retry")
    )
    op.execute(
        notifications.update()
        .where(*unowned, notifications.c.kind != "webhook")
        .values(status="in_doubt", error=_UNOWNED)
    )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claim_id")
