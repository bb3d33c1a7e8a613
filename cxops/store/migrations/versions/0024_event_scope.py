"""An event posted with a key limited to one survey (`cxops keys create NAME --survey ID`)
is stored with that survey: only that survey plans invitations from it.

Revision ID: 0024_event_scope
Revises: 0023_crm_contacts
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_event_scope"
down_revision: str | None = "0023_crm_contacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has it already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("inbound_events")}
    if "survey_id" not in columns:
        with op.batch_alter_table("inbound_events") as batch:
            batch.add_column(sa.Column("survey_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("survey_id")
