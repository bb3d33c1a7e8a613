"""Tasks keep what happened to them as structured events: `tasks.events`.

A reassignment, a snooze, a note and a close were only lines of English text in
`tasks.note` ("2026-12-07 03:14 reassigned from … to …", a time without its zone), so a
German or French task page showed them in English and in UTC unsaid. Each is now also an
event (its kind, its UTC time and its values), which the pages say in their language and
in the assignee's time zone. `note` keeps its text for the CLI and the exports. Tasks
from before this revision have no events (NULL): their pages show the note as it was.

Revision ID: 0016_task_notes
Revises: 0011_notification_claims
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_task_notes"
down_revision: str | None = "0013_client_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has the column already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("tasks")}
    if "events" not in columns:
        op.add_column("tasks", sa.Column("events", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("events")
