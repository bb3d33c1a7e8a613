"""Erasure records (`cxops forget`) and the collector's health-check row.

Types are spelled out (not imported from the models) so this revision never changes.

Revision ID: 0008_privacy_health
Revises: 0007_webhook_rejects
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_privacy_health"
down_revision: str | None = "0007_webhook_rejects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has them already.
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "erasures" not in present:
        _create_erasures()
    if "health_checks" not in present:
        op.create_table(
            "health_checks",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_health_checks"),
        )


def _create_erasures() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_erasures"),
    )
    op.create_index("ix_erasures_subject", "erasures", ["subject"])


def downgrade() -> None:
    op.drop_table("health_checks")
    op.drop_index("ix_erasures_subject", table_name="erasures")
    op.drop_table("erasures")
