"""What `cxops crm push` last wrote onto each person's CRM contact.

`crm_contacts`: one row per (crm, person), `person` the keyed hash of the address that
erasures use; the contact's id in the CRM, the property values last written, when the
contact was last looked up, and whether `forget` left properties to clear.

Revision ID: 0023_crm_contacts
Revises: 0022_variants
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_crm_contacts"
down_revision: str | None = "0022_variants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A store made by create_all from newer models (then stamped) has it already.
    if "crm_contacts" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "crm_contacts",
        sa.Column("crm", sa.String(16), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erase_pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("crm", "person", name="pk_crm_contacts"),
    )


def downgrade() -> None:
    op.drop_table("crm_contacts")
