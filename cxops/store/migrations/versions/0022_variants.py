"""Invitation experiments: the variant each ledger row was assigned.

`sends.variant` (NULL: the survey had no variants) is written with the row, before its
message leaves; a reminder's row carries its invitation's variant.

Revision ID: 0022_variants
Revises: 0021_webhooks
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_variants"
down_revision: str | None = "0021_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has it already.
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sends")}
    if "variant" not in columns:
        op.add_column("sends", sa.Column("variant", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("variant")
