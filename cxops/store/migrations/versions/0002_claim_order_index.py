"""The claim index also orders by (batch, id): claiming a batch reads only that batch.

Without it every claim sorted all pending rows of the wave, so a wave of N contacts
cost O(N² / batch size) in the database.

Revision ID: 0002_claim_order_index
Revises: 0001_initial
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_claim_order_index"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ["survey_id", "wave_id", "step", "status"]
NEW = [*OLD, "batch", "id"]


def upgrade() -> None:
    op.drop_index("ix_sends_claim", table_name="sends")
    op.create_index("ix_sends_claim", "sends", NEW)


def downgrade() -> None:
    op.drop_index("ix_sends_claim", table_name="sends")
    op.create_index("ix_sends_claim", "sends", OLD)
