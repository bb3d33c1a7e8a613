"""Addresses stored before the edge lower-cased them are normalized, duplicates merged.

Since `normalize_email` lower-cases the whole address, `Ann@X.example` and
`ann@x.example` are one person; rows written earlier may still hold the first form,
which the store no longer finds (a suppression for `Ann@X.example` would not hold
`ann@x.example` back). Every column that holds a person's or an assignee's address
gets the form the edge gives today (`cxops.store.suppressions.address_key`):

- `sends.email`, `interviews.email`, `webhook_events.email`, `tasks.assignee`: rewritten
  in place (none of them is unique, so nothing merges).
- `suppressions` (keyed by address): the rows of one address become one, holding the
  strongest reason (unsubscribed > spam > bounced, the earliest on a tie) with its
  source and detail. No address is ever left unsuppressed.
- `notifications` of digests (`digest:<assignee>:<day>`, recipient the assignee) and the
  recipients of escalations: rewritten; two digest rows for one assignee and day become
  the one that went furthest (sent > in doubt > pending > failed > retry), so the digest
  of that day is still sent at most once.

Erasure subjects are keyed hashes of the address and cannot be rewritten without the
project's key: a repeated `cxops forget` of an address erased under another case finds
nothing left to erase and records a second subject. Downgrading keeps the normalized
addresses (the old case is not kept).

Revision ID: 0009_lowercase_addresses
Revises: 0008_privacy_health
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from cxops.audience.contacts import normalize_email

revision: str = "0009_lowercase_addresses"
down_revision: str | None = "0008_privacy_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Strongest first (as `cxops.store.suppressions.REASONS`, spelled out: this revision never changes).
_REASONS = ("unsubscribed", "spam", "bounced")
#: How far a notification went, furthest first.
_PROGRESS = ("sent", "in_doubt", "pending", "failed", "retry")
_CHUNK = 5_000

_IN_PLACE = (
    ("sends", "id", "email"),
    ("interviews", "id", "email"),
    ("webhook_events", "event_id", "email"),
    ("tasks", "id", "assignee"),
)


def _key(address: str) -> str:
    # cxops.store.suppressions.address_key, kept here so the revision means one thing.
    return normalize_email(address) or address.strip().lower()


def upgrade() -> None:
    conn = op.get_bind()
    present = set(sa.inspect(conn).get_table_names())
    for table, pk, column in _IN_PLACE:
        if table in present:
            _rewrite(conn, table, pk, column)
    if "suppressions" in present:
        _merge_suppressions(conn)
    if "notifications" in present:
        _merge_notifications(conn)


def _rewrite(conn: sa.Connection, table: str, pk: str, column: str) -> None:
    t = sa.table(table, sa.column(pk), sa.column(column))
    changes: list[dict[str, Any]] = []
    query = sa.select(t.c[pk], t.c[column]).where(t.c[column].is_not(None))
    # Streamed: the ledger may hold millions of rows, few of them to change.
    rows = conn.execute(query.execution_options(yield_per=_CHUNK))
    for key, address in rows:
        normal = _key(address)
        if normal != address:
            changes.append({"_pk": key, "_value": normal})
    update = (
        sa.update(t).where(t.c[pk] == sa.bindparam("_pk")).values({column: sa.bindparam("_value")})
    )
    for start in range(0, len(changes), _CHUNK):
        conn.execute(update, changes[start : start + _CHUNK])


def _merge_suppressions(conn: sa.Connection) -> None:
    t = sa.table(
        "suppressions",
        sa.column("email"),
        sa.column("reason"),
        sa.column("source"),
        sa.column("detail"),
        sa.column("created_at"),
    )
    groups: dict[str, list[sa.Row[Any]]] = {}
    for row in conn.execute(sa.select(t)):
        groups.setdefault(_key(row.email), []).append(row)
    for normal, rows in groups.items():
        if len(rows) == 1 and rows[0].email == normal:
            continue
        keep = min(rows, key=lambda r: (_rank(_REASONS, r.reason), r.created_at, r.email))
        olds = [r.email for r in rows]
        conn.execute(sa.delete(t).where(t.c.email.in_(olds)))
        conn.execute(
            sa.insert(t).values(
                email=normal,
                reason=keep.reason,
                source=keep.source,
                detail=keep.detail,
                created_at=keep.created_at,
            )
        )


def _merge_notifications(conn: sa.Connection) -> None:
    t = sa.table(
        "notifications",
        sa.column("key"),
        sa.column("kind"),
        sa.column("recipient"),
        sa.column("status"),
        sa.column("attempts"),
        sa.column("error"),
        sa.column("created_at"),
        sa.column("sent_at"),
    )
    rows = conn.execute(sa.select(t).where(t.c.kind.in_(("digest", "escalation")))).all()
    groups: dict[str, list[sa.Row[Any]]] = {}
    for row in rows:
        groups.setdefault(_notification_key(row.key, row.kind), []).append(row)
    for key, group in groups.items():
        keep = min(group, key=lambda r: (_rank(_PROGRESS, r.status), r.created_at, r.key))
        recipient = _recipient(keep.recipient)
        if len(group) == 1 and keep.key == key and keep.recipient == recipient:
            continue
        conn.execute(sa.delete(t).where(t.c.key.in_([r.key for r in group])))
        values = dict(keep._mapping)
        values.update(key=key, recipient=recipient)
        conn.execute(sa.insert(t).values(values))


def _notification_key(key: str, kind: str) -> str:
    prefix, sep, rest = key.partition(":")
    if kind != "digest" or prefix != "digest" or not sep:
        return key
    assignee, sep, day = rest.rpartition(":")
    return f"digest:{_key(assignee)}:{day}" if sep and assignee else key


def _recipient(recipient: str) -> str:
    # Escalations may go to a chat webhook URL: only addresses are rewritten.
    return normalize_email(recipient) or recipient


def _rank(order: Iterable[str], value: str) -> int:
    order = tuple(order)
    return order.index(value) if value in order else len(order)


def downgrade() -> None:
    pass  # the old case of an address is not kept; normalized addresses work on 0008 too
