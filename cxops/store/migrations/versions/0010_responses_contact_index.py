"""Index responses by (contact_key, survey_id): a contact's answers by lookup.

The report reads every answer of the contacts who have a follow-up task (their next
answer after a detractor's): before, a test of each of the survey's answers against
the task contacts (at 1,000,000 answers a full scan for ~34,000 contacts), now one
index lookup per contact. The contact comes first so that the index never competes
with `ix_responses_survey_id` for the scans of a whole survey (the report's counts):
an index led by the survey would be taken for them on a store without statistics,
visiting the survey's rows in contact order instead of storage order.

Writing an answer adds one index entry; no existing row changes. The index is built
from the existing rows by `CREATE INDEX`.

Revision ID: 0010_responses_contact_index
Revises: 0009_lowercase_addresses
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_responses_contact_index"
down_revision: str | None = "0009_lowercase_addresses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_responses_contact_survey"


def _present() -> bool:
    indexes = sa.inspect(op.get_bind()).get_indexes("responses")
    return NAME in {index["name"] for index in indexes}


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has it already.
    if not _present():
        op.create_index(NAME, "responses", ["contact_key", "survey_id"])


def downgrade() -> None:
    if _present():
        op.drop_index(NAME, table_name="responses")
