"""Responses get `confirmed_at`: a one-click score stays provisional until a person confirms.

Link scanners that run JavaScript load `/a/TOKEN?score=N` and the page saved the score;
such an answer is now provisional (`confirmed_at` NULL) and counted nowhere until a
real interaction on the page or the form's submit confirms it.

Existing complete responses were submitted through the form: confirmed at their
`submitted_at`. Existing partial ones carry no evidence of a person: provisional.

Revision ID: 0004_responses_confirmed_at
Revises: 0003_drop_email_sent_index
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_responses_confirmed_at"
down_revision: str | None = "0003_drop_email_sent_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has it already.
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("responses")}
    if "confirmed_at" in present:
        return
    op.add_column("responses", sa.Column("confirmed_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE responses SET confirmed_at = submitted_at "
        "WHERE status = 'complete' AND submitted_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("confirmed_at")
