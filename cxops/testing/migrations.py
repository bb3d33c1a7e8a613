"""Rows written as an older revision of the store wrote them (the models describe only
the newest), for migration tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: `notifications` as revisions 0001–0010 had it (no claim owner).
NOTIFICATIONS_BEFORE_0011 = sa.table(
    "notifications",
    sa.column("key", sa.String),
    sa.column("kind", sa.String),
    sa.column("recipient", sa.String),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("error", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("sent_at", sa.DateTime(timezone=True)),
)


def add_old_notifications(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `notifications` rows with the columns of revisions before 0011; each row
    needs key, kind, recipient, status and created_at (attempts default 1)."""
    values = [{"attempts": 1, "error": None, "sent_at": None, **row} for row in rows]
    session.execute(sa.insert(NOTIFICATIONS_BEFORE_0011), values)


def add_old_rows(session: Session, rows: Sequence[Any]) -> None:
    """Insert model instances as an older revision's table could take them: only the
    columns each row sets (a column a later revision added is left out of the INSERT,
    where the ORM would name it and the older table would refuse it)."""
    for row in rows:
        table = type(row).__table__
        values = {c.key: getattr(row, c.key) for c in table.columns}
        session.execute(sa.insert(table), {k: v for k, v in values.items() if v is not None})
