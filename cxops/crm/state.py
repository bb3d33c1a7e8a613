"""The `crm_contacts` table: what cxops last wrote onto each person's CRM contact.

A row is keyed by the CRM (`hubspot`) and the person's keyed hash (the one erasures
use), so the table holds no address. `values` is property -> value as last written,
or, without a `contact_id`, as wanted when no contact had the address. A row with
`erase_pending` holds the properties `forget` has still to clear (values "").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cxops.chunks import chunks
from cxops.store.db import Store
from cxops.store.models import CrmContact


@dataclass(frozen=True, slots=True)
class Written:
    """One person's row, read."""

    person: str
    contact_id: str | None
    values: dict[str, str]
    checked_at: datetime
    written_at: datetime | None
    erase_pending: bool


def read_all(store: Store, crm: str) -> dict[str, Written]:
    """Person hash -> their row, for one CRM."""
    with store.session() as session:
        rows = session.scalars(select(CrmContact).where(CrmContact.crm == crm))
        return {row.person: _written(row) for row in rows}


def of_person(store: Store, person: str) -> dict[str, Written]:
    """CRM -> the person's row there."""
    with store.session() as session:
        rows = session.scalars(select(CrmContact).where(CrmContact.person == person))
        return {row.crm: _written(row) for row in rows}


def save(
    session: Session,
    crm: str,
    rows: Mapping[str, tuple[str | None, Mapping[str, str]]],
    *,
    now: datetime,
    written: bool,
) -> None:
    """Record each person's contact id (None: no contact had their address) and the values
    written (or wanted); `rows` is person hash -> (contact id, values)."""
    existing = {
        row.person: row
        for part in chunks(sorted(rows), 500)
        for row in session.scalars(
            select(CrmContact).where(CrmContact.crm == crm, CrmContact.person.in_(part))
        )
    }
    for person, (contact_id, values) in rows.items():
        row = existing.get(person)
        if row is None:
            row = CrmContact(crm=crm, person=person, erase_pending=False)
            session.add(row)
        row.contact_id = contact_id
        row.values = dict(values)
        row.checked_at = now
        if written:
            row.written_at = now


def mark_erasure(store: Store, person: str, now: datetime) -> list[Written]:
    """`forget`: every CRM row of the person becomes the clearing still to do (the
    properties written, each to ""), or goes when nothing was written; the rows to clear."""
    pending = []
    with store.session(write=True) as session:
        for row in session.scalars(select(CrmContact).where(CrmContact.person == person)):
            if row.contact_id is None or row.written_at is None or not row.values:
                session.delete(row)
                continue
            row.values = dict.fromkeys(row.values, "")
            row.erase_pending = True
            row.checked_at = now
            pending.append(_written(row))
    return pending


def forget_rows(store: Store, crm: str, people: Iterable[str]) -> None:
    """Remove rows whose clearing is done (or can no longer be done)."""
    with store.session(write=True) as session:
        for part in chunks(sorted(people), 500):
            session.execute(
                delete(CrmContact).where(CrmContact.crm == crm, CrmContact.person.in_(part))
            )


def _written(row: CrmContact) -> Written:
    return Written(
        person=row.person,
        contact_id=row.contact_id,
        values={str(k): str(v) for k, v in (row.values or {}).items()},
        checked_at=row.checked_at,
        written_at=row.written_at,
        erase_pending=row.erase_pending,
    )
