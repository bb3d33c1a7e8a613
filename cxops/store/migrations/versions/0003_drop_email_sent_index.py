"""Drop the (email, sent_at) index of sends: no query used it, and every write paid for it.

Recording a send moved its entry in this index, at a random place (ordered by email):
at a million ledger rows that made recording a sent message five times as costly.
History reads scan the ledger once per wave and never look sends up by email.

Revision ID: 0003_drop_email_sent_index
Revises: 0002_claim_order_index
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_drop_email_sent_index"
down_revision: str | None = "0002_claim_order_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) never had it.
    present = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("sends")}
    if "ix_sends_email_sent" in present:
        op.drop_index("ix_sends_email_sent", table_name="sends")


def downgrade() -> None:
    op.create_index("ix_sends_email_sent", "sends", ["email", "sent_at"])
