"""`cxops crm push`: each person's latest NPS values onto their CRM contact, only what changed.

1. Clearings `forget` left pending (the CRM was unreachable then) are sent first.
2. Each person's wanted values (`cxops.crm.values`) are compared with what was last
   written (`cxops.crm.state`): equal values send nothing. A person with no contact at
   the last look is looked up again when their values change or after a day.
3. The others, 100 at a time: one request finds their contacts by email, one writes the
   properties whose values changed; the rows are saved after each batch, so a push that
   stops (a limit, an outage) keeps what it wrote and the next one resumes.

10,000 people with new values are 200 requests; a push with nothing new makes none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cxops.chunks import chunks
from cxops.crm import state
from cxops.crm.hubspot import MAX_BATCH, HubSpotClient
from cxops.errors import CrmError
from cxops.store.db import Store
from cxops.store.erasures import erasure_digest

CRM = "hubspot"
#: How long a person without a contact waits before their address is looked up again.
RECHECK_MISSING = timedelta(days=1)


@dataclass(slots=True)
class PushResult:
    """What one push did (or, with `dry_run`, would do)."""

    crm: str = CRM
    dry_run: bool = False
    #: People with a scored NPS answer.
    people: int = 0
    #: Their contact already shows these values: nothing sent.
    unchanged: int = 0
    #: Contacts written (dry run: people whose values would be looked up and written).
    updated: int = 0
    #: People with no contact of their address (not created); looked up again later.
    missing: int = 0
    #: Contacts HubSpot refused to update, with its reason.
    failed: dict[str, str] = field(default_factory=dict)
    #: Contacts whose properties `forget` asked to clear, cleared now.
    cleared: int = 0
    erasures_pending: int = 0
    requests: int = 0
    #: Why the push stopped before the end (the next push resumes), if it did.
    stopped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "crm": self.crm,
            "dry_run": self.dry_run,
            "people": self.people,
            "unchanged": self.unchanged,
            "updated": self.updated,
            "missing_contacts": self.missing,
            "failed": len(self.failed),
            "failures": dict(sorted(self.failed.items())[:20]),
            "cleared_after_forget": self.cleared,
            "erasures_pending": self.erasures_pending,
            "requests": self.requests,
            "stopped": self.stopped,
        }


def push(
    store: Store,
    wanted: Mapping[str, Mapping[str, str]],
    *,
    key: bytes,
    now: datetime,
    client: Callable[[], HubSpotClient] | None,
) -> PushResult:
    """Write `wanted` (address -> property values) onto the contacts; `client` None is a
    dry run (no request at all)."""
    result = PushResult(dry_run=client is None, people=len(wanted))
    written = state.read_all(store, CRM)
    erasures = [row for row in written.values() if row.erase_pending]
    result.erasures_pending = len(erasures)
    to_write: list[tuple[str, str]] = []
    for address in sorted(wanted):
        person = erasure_digest(address, key)
        row = written.get(person)
        values = dict(wanted[address])
        if row is not None and row.erase_pending:
            continue
        if row is not None and row.values == values:
            if row.contact_id is not None:
                result.unchanged += 1
                continue
            if row.checked_at > now - RECHECK_MISSING:
                result.missing += 1
                continue
        to_write.append((address, person))
    if client is None:
        result.updated = len(to_write)
        return result
    with client() as hubspot:
        try:
            result.cleared = clear(store, hubspot, erasures)
            result.erasures_pending -= result.cleared
            for batch in chunks(to_write, MAX_BATCH):
                _write_batch(store, hubspot, batch, wanted, written, now, result)
        except CrmError as exc:
            result.stopped = str(exc)
        finally:
            result.requests = hubspot.requests
    return result


def _write_batch(
    store: Store,
    hubspot: HubSpotClient,
    batch: list[tuple[str, str]],
    wanted: Mapping[str, Mapping[str, str]],
    written: Mapping[str, state.Written],
    now: datetime,
    result: PushResult,
) -> None:
    found = hubspot.find_contacts([address for address, _ in batch])
    updates: dict[str, dict[str, str]] = {}
    people_of: dict[str, tuple[str, str]] = {}
    missing: dict[str, tuple[str | None, Mapping[str, str]]] = {}
    for address, person in batch:
        values = dict(wanted[address])
        contact_id = found.get(address.lower())
        if contact_id is None:
            missing[person] = (None, values)
            continue
        before = written.get(person)
        known = before.values if before and before.contact_id == contact_id else {}
        changed = {name: value for name, value in values.items() if known.get(name) != value}
        updates[contact_id] = changed or values
        people_of[contact_id] = (address, person)
    if missing:
        with store.session(write=True) as session:
            state.save(session, CRM, missing, now=now, written=False)
        result.missing += len(missing)
    outcome = hubspot.update_contacts(updates)
    done: dict[str, tuple[str | None, Mapping[str, str]]] = {}
    for contact_id in outcome.updated:
        address, person = people_of[contact_id]
        done[person] = (contact_id, wanted[address])
    with store.session(write=True) as session:
        state.save(session, CRM, done, now=now, written=True)
    result.updated += len(outcome.updated)
    result.failed.update(outcome.failed)


def clear(store: Store, hubspot: HubSpotClient, rows: list[state.Written]) -> int:
    """Clear the properties of `forget`'s pending rows; the rows go once cleared (or when
    their contact no longer exists). How many contacts were cleared."""
    cleared = 0
    with_contact = [row for row in rows if row.contact_id is not None]
    for batch in chunks(with_contact, MAX_BATCH):
        updates = {str(row.contact_id): row.values for row in batch}
        outcome = hubspot.update_contacts(updates)
        gone = {
            row.person
            for row in batch
            if row.contact_id in outcome.updated
            or "OBJECT_NOT_FOUND" in outcome.failed.get(str(row.contact_id), "")
        }
        state.forget_rows(store, CRM, gone)
        cleared += len(outcome.updated)
    state.forget_rows(store, CRM, [row.person for row in rows if row.contact_id is None])
    return cleared
