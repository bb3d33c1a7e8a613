"""The initial store: waves, the send ledger, suppressions, responses, webhook events,
tasks and notifications, exactly as `cxops/store/models.py` first declared them.

Types are spelled out here (not imported from the models) so this revision never
changes when the models move on.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[Any]:
    return sa.Column("id", ID, autoincrement=True, nullable=False)


def _when(name: str, *, nullable: bool) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int | None, *, nullable: bool = False) -> sa.Column[Any]:
    kind = sa.Text() if length is None else sa.String(length=length)
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "waves",
        _id(),
        _text("survey_id", 64),
        _text("wave_id", 64),
        _when("started_at", nullable=False),
        _when("finished_at", nullable=True),
        _text("status", 16),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waves")),
        sa.UniqueConstraint("survey_id", "wave_id", name="uq_waves_survey_wave"),
    )
    op.create_table(
        "sends",
        _id(),
        _text("send_id", 32),
        _text("survey_id", 64),
        _text("wave_id", 64),
        sa.Column("step", sa.Integer(), nullable=False),
        _text("contact_key", 255),
        _text("email", 320),
        _text("segment", 64),
        _text("locale", 16),
        sa.Column("contact", sa.JSON(), nullable=False),
        _text("status", 16),
        sa.Column("batch", sa.Integer(), nullable=False),
        _text("claim_id", 128, nullable=True),
        _when("claimed_at", nullable=True),
        _when("sent_at", nullable=True),
        _text("channel", 16, nullable=True),
        _text("provider_id", 255, nullable=True),
        _text("error", None, nullable=True),
        _when("created_at", nullable=False),
        _when("delivered_at", nullable=True),
        _when("opened_at", nullable=True),
        _when("clicked_at", nullable=True),
        _when("honeypot_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sends")),
        sa.UniqueConstraint("send_id", name=op.f("uq_sends_send_id")),
        sa.UniqueConstraint(
            "survey_id", "wave_id", "contact_key", "step", name="uq_sends_survey_wave_contact_step"
        ),
    )
    op.create_index("ix_sends_claim", "sends", ["survey_id", "wave_id", "step", "status"])
    op.create_index("ix_sends_email_sent", "sends", ["email", "sent_at"])
    op.create_table(
        "suppressions",
        _text("email", 320),
        _text("reason", 32),
        _text("source", 32),
        _text("detail", None, nullable=True),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "responses",
        _id(),
        _text("send_id", 32),
        _text("survey_id", 64),
        _text("wave_id", 64),
        _text("contact_key", 255),
        _text("segment", 64),
        _text("locale", 16),
        _text("status", 16),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("suspect", sa.Boolean(), nullable=False),
        _text("suspect_reason", 255, nullable=True),
        _when("first_answered_at", nullable=False),
        _when("submitted_at", nullable=True),
        _when("updated_at", nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["send_id"], ["sends.send_id"], name=op.f("fk_responses_send_id_sends")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
        sa.UniqueConstraint("send_id", name=op.f("uq_responses_send_id")),
    )
    op.create_index(op.f("ix_responses_survey_id"), "responses", ["survey_id"])
    op.create_table(
        "webhook_events",
        _text("event_id", 255),
        _text("event", 32),
        _text("send_id", 32, nullable=True),
        _text("email", 320, nullable=True),
        _when("received_at", nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_webhook_events")),
    )
    op.create_table(
        "tasks",
        _id(),
        sa.Column("response_id", ID, nullable=False),
        _text("survey_id", 64),
        _text("wave_id", 64),
        _text("contact_key", 255),
        _text("segment", 64),
        _text("rule_id", 64),
        _text("rule_version", 16),
        _text("title", None),
        _text("assignee", 320),
        _text("priority", 8),
        _text("status", 16),
        _text("outcome", 32, nullable=True),
        _text("note", None, nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        _when("created_at", nullable=False),
        _when("due_at", nullable=False),
        _when("first_action_at", nullable=True),
        _when("closed_at", nullable=True),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"], ["responses.id"], name=op.f("fk_tasks_response_id_responses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("response_id", "rule_id", name="uq_tasks_response_rule"),
    )
    op.create_index(op.f("ix_tasks_assignee"), "tasks", ["assignee"])
    op.create_index(op.f("ix_tasks_survey_id"), "tasks", ["survey_id"])
    op.create_table(
        "notifications",
        _text("key", 400),
        _text("kind", 16),
        _text("recipient", 400),
        _text("status", 16),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _text("error", None, nullable=True),
        _when("created_at", nullable=False),
        _when("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notifications")),
    )


def downgrade() -> None:
    for table in ("notifications", "tasks", "webhook_events", "responses", "suppressions"):
        op.drop_table(table)
    op.drop_table("sends")
    op.drop_table("waves")
