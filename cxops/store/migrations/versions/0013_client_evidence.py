"""Which client fetched a hidden link, and which client saved an answer.

`sends.honeypot_clients`: the clients (keyed hashes of address, User-Agent and
Accept-Language, never the values) that fetched the send's hidden link.
`responses.client`: the client whose save last changed the answers. Suspicion follows
the client: a fetcher's answers are a machine's, another client's are a person's,
however soon after the fetch. Both columns are nullable and added without a rewrite.

Revision ID: 0013_client_evidence
Revises: 0011_notification_claims
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_client_evidence"
down_revision: str | None = "0011_notification_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has them already.
    if "honeypot_clients" not in _columns("sends"):
        op.add_column("sends", sa.Column("honeypot_clients", sa.JSON(), nullable=True))
    if "client" not in _columns("responses"):
        op.add_column("responses", sa.Column("client", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("client")
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("honeypot_clients")
