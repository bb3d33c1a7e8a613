"""Interviews: who accepted (with the consent text's hash and time), booked, completed,
and the incentives owed and paid. Types spelled out, as in 0001.

Revision ID: 0005_interviews
Revises: 0004_responses_confirmed_at
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005_interviews"
down_revision: str | None = "0004_responses_confirmed_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int | None, *, nullable: bool = False) -> sa.Column[Any]:
    kind = sa.Text() if length is None else sa.String(length=length)
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("interviews"):
        return  # a store made by create_all from these models (then stamped) has it
    op.create_table(
        "interviews",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        _text("send_id", 32),
        _text("survey_id", 64),
        _text("wave_id", 64),
        _text("contact_key", 255),
        _text("email", 320),
        _text("status", 16),
        _text("consent_sha256", 64, nullable=True),
        _when("consent_at"),
        _when("answered_at", nullable=False),
        _when("booked_at"),
        _text("booking_uri", 400, nullable=True),
        _when("starts_at"),
        _when("completed_at"),
        _when("updated_at", nullable=False),
        _text("incentive", None, nullable=True),
        sa.Column("incentive_amount", sa.Float(), nullable=True),
        _text("incentive_currency", 3, nullable=True),
        _text("incentive_status", 8),
        _when("paid_at"),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["send_id"], ["sends.send_id"], name=op.f("fk_interviews_send_id_sends")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
        sa.UniqueConstraint("send_id", name=op.f("uq_interviews_send_id")),
    )
    op.create_index(op.f("ix_interviews_survey_id"), "interviews", ["survey_id"])
    op.create_index(op.f("ix_interviews_email"), "interviews", ["email"])


def downgrade() -> None:
    op.drop_table("interviews")
