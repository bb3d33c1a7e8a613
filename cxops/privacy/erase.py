"""`cxops forget EMAIL`: a person's personal data out of the store and the files.

In the store, rows that matter for aggregates stay, with the person taken out:

- `sends`: the address becomes a never-deliverable placeholder, the contact key a
  pseudonym, the copy of their source row and the provider's ids are emptied;
- `responses`: the contact key becomes the pseudonym; scores and choices stay (they
  count in reports), free-text answers are removed (they may name anyone);
- `sends` still `pending` (planned, not claimed) are `skipped` (error `erased`): nothing
  goes out to them, nor to the placeholder;
- `tasks` about them: pseudonym, the title and note (which name them) and the
  context columns are emptied, open ones are withdrawn (`person erased`: no digest,
  no escalation); open tasks assigned to them go to their rule's fallback or the
  survey's owner (else, and when closed, they get the placeholder address), and so does
  every note, title or context value that names them (a reassignment's line);
- other people's ledger rows that name them in their contact copy (a `csm_email`
  column of an erased CSM): the value becomes the placeholder address;
- `webhook_events`, `notifications`, `suppressions`: their address is removed;
  `webhook_rejects` (malformed events, kept as received) that mention them are deleted.
- `inbound_events` (events posted to `/api/v1/events`) whose data mentions their
  address are deleted, with what each triggered survey made of them
  (`trigger_processed`); a `trigger_dedupe` value naming them becomes the pseudonym.

- `webhook_deliveries` about them (by their contact keys): queued ones never go out
  (`erased`), delivered ones keep no payload, all get the pseudonym; a `person.erased`
  event (their contact keys, no address) is queued for every webhook endpoint
  subscribed to it (`cxops.webhooks.privacy`).
- `interviews`: the address becomes the placeholder, the contact key the pseudonym, the
  booking link (the scheduler's record of them) is dropped; statuses and incentives stay.

Then SQLite rewrites the file with `secure_delete` on, so no free page keeps the old
values; PostgreSQL rewrites the tables it changed with `VACUUM (FULL)`: a plain VACUUM
leaves the old values in the bytes of the index pages (and of free heap space), as
`tests/test_privacy.py` shows by reading the relation files. `VACUUM (FULL)` copies a
row version that a transaction still open in the database might see (one begun before
the erasure, an autovacuum's ANALYZE), so it first waits for those to end, up to
`wait_seconds`; the ones that did not are reported (`kept_by`), and a repeated `forget`
rewrites the tables again. The planner's statistics (`pg_statistic`, which keeps sample
values of each column) are computed again and, when the store's role owns the database,
the catalog is rewritten too. Files: see `cxops.privacy.files`. The erasure is recorded in
`erasures` under the keyed hash only; a repeat finds nothing left and records nothing new.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from cxops.privacy.files import scrub_files, scrub_reports
from cxops.privacy.subject import Subject, mentions
from cxops.settings.groups import WebhookEndpoint
from cxops.store.db import Store
from cxops.store.erasures import ERASED, ERASED_NOTE
from cxops.store.models import (
    Erasure,
    InboundEvent,
    Interview,
    Notification,
    Response,
    Send,
    Suppression,
    Task,
    TriggerDedupe,
    TriggerProcessed,
    WebhookEvent,
    WebhookReject,
)
from cxops.store.task_events import record_event
from cxops.webhooks.privacy import erase_person as erase_webhook_deliveries

ERASED_TITLE = "(erased on request)"
#: The tables that hold personal data (vacuumed on PostgreSQL after an erasure).
PERSONAL_TABLES = (
    "sends",
    "responses",
    "tasks",
    "webhook_events",
    "webhook_rejects",
    "notifications",
    "suppressions",
    "interviews",
    "inbound_events",
    "webhook_deliveries",
    "trigger_processed",
    "trigger_dedupe",
)

#: Counts of the report that are not named after the table they changed.
_TABLE_OF = {
    "pending_sends_skipped": "sends",
    "contact_copies": "sends",
    "tasks_withdrawn": "tasks",
    "event_outcomes": "trigger_processed",
    "event_dedupe_values": "trigger_dedupe",
}


@dataclass(slots=True)
class ErasureReport:
    """What one `forget` changed: table or place -> rows or messages."""

    subject: str
    counts: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: Reports removed because they quoted the person (`cxops report` makes them again).
    reports: list[str] = field(default_factory=list)
    already_erased: bool = False
    #: PostgreSQL backends whose transactions, open since before the erasure, kept old
    #: row versions in the rewritten tables (empty: none).
    kept_by: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "erased": dict(self.counts),
            "files": list(self.files),
            "reports_removed": list(self.reports),
            "already_erased": self.already_erased,
            "kept_by": list(self.kept_by),
        }


def forget_person(
    store: Store,
    subject: Subject,
    *,
    now: datetime,
    free_text: Mapping[str, frozenset[str]],
    folders: list[Path],
    reports: Path | None = None,
    successors: Mapping[tuple[str, str], str] | None = None,
    wait_seconds: float = 60,
    webhooks: Sequence[WebhookEndpoint] = (),
) -> ErasureReport:
    """Erase `subject` from the store and from the files under `folders`, and the
    reports under `reports` that quote their free-text answers; idempotent.

    `free_text` maps a survey id to its free-text question ids (answers removed);
    for a survey not in it, only numbers and booleans are kept. `successors` maps a
    (survey, rule) to who takes over the open tasks of an erased assignee (the rule's
    fallback, else the survey's owner); without one they keep the placeholder address.
    `webhooks`: the configured endpoints (those subscribed get `person.erased`).
    """
    report = ErasureReport(subject.digest)
    erasing_xid = ""
    with store.session(write=True) as session:
        if store.dialect == "sqlite":
            session.execute(text("PRAGMA secure_delete = ON"))
        else:
            erasing_xid = str(session.scalar(text("SELECT pg_current_xact_id()")))
        report.counts, answers = _erase_rows(
            session, subject, free_text, now, successors or {}, webhooks
        )
        earlier = session.scalar(select(Erasure.id).where(Erasure.subject == subject.digest))
        report.already_erased = earlier is not None
    report.files, messages = scrub_files(folders, subject.email)
    report.counts["outbox_messages"] = messages
    if reports is not None:
        report.reports = scrub_reports(reports, answers)
        report.files += report.reports
    if report.changed or not report.already_erased:
        with store.session(write=True) as session:
            session.add(Erasure(subject=subject.digest, erased_at=now, counts=report.counts))
    # A repeat rewrites every table: the first may have had to leave old versions behind.
    touched = {_TABLE_OF.get(name, name) for name, count in report.counts.items() if count}
    changed = [t for t in PERSONAL_TABLES if t in touched or report.already_erased]
    report.kept_by = _rewrite_storage(store, changed, erasing_xid, wait_seconds)
    return report


def _erase_rows(
    session: Session,
    subject: Subject,
    free_text: Mapping[str, frozenset[str]],
    now: datetime,
    successors: Mapping[tuple[str, str], str],
    webhooks: Sequence[WebhookEndpoint],
) -> tuple[dict[str, int], list[str]]:
    """Rows changed per table, and the free-text answers removed."""
    email, pseudonym, placeholder = subject.email, subject.pseudonym, subject.placeholder_email
    sends = session.execute(
        select(Send.send_id, Send.survey_id, Send.contact_key)
        .where(Send.email == email)
        .order_by(Send.id.desc())
    ).all()
    send_ids = [row.send_id for row in sends]
    keys = {(row.survey_id, row.contact_key) for row in sends}
    counts: dict[str, int] = {}
    contact_keys = list(dict.fromkeys(row.contact_key for row in sends))
    counts["webhook_deliveries"] = erase_webhook_deliveries(
        session, webhooks, contact_keys, pseudonym=pseudonym, subject=subject.digest, now=now
    )
    counts["pending_sends_skipped"] = _rowcount(
        session.execute(
            update(Send)
            .where(Send.email == email, Send.status == "pending")
            .values(status="skipped", error=ERASED)
        )
    )
    counts["sends"] = _rowcount(
        session.execute(
            update(Send)
            .where(Send.email == email)
            .values(
                email=placeholder,
                contact_key=pseudonym,
                contact={},
                provider_id=None,
                error=None,
                honeypot_clients=None,
            )
        )
    )
    counts["contact_copies"] = _erase_contact_copies(session, email, placeholder)
    answers: list[str] = []
    counts["responses"] = _anonymize_responses(session, send_ids, pseudonym, free_text, answers)
    counts["tasks"] = _erase_tasks(session, keys, email, pseudonym, placeholder, successors, now)
    counts["tasks_withdrawn"] = _rowcount(
        session.execute(
            update(Task)
            .where(Task.contact_key == pseudonym, Task.status == "open")
            .values(status="withdrawn", outcome="withdrawn", note=ERASED_NOTE, closed_at=now)
        )
    )
    counts["webhook_events"] = _rowcount(
        session.execute(
            update(WebhookEvent)
            .where(or_(WebhookEvent.email == email, WebhookEvent.send_id.in_(send_ids or [""])))
            .where(WebhookEvent.email.is_not(None))
            .values(email=None)
        )
    )
    counts["webhook_rejects"] = _rowcount(
        session.execute(delete(WebhookReject).where(mentions(WebhookReject.item, email)))
    )
    (
        counts["inbound_events"],
        counts["event_outcomes"],
        counts["event_dedupe_values"],
    ) = _erase_inbound_events(session, email, pseudonym)
    counts["notifications"] = _erase_notifications(session, email, placeholder)
    counts["suppressions"] = _rowcount(
        session.execute(delete(Suppression).where(Suppression.email == email))
    )
    counts["interviews"] = _rowcount(
        session.execute(
            update(Interview)
            .where(or_(Interview.email == email, Interview.send_id.in_(send_ids or [""])))
            .where(Interview.email != placeholder)
            .values(email=placeholder, contact_key=pseudonym, booking_uri=None)
        )
    )
    return counts, answers


def _anonymize_responses(
    session: Session,
    send_ids: list[str],
    pseudonym: str,
    free_text: Mapping[str, frozenset[str]],
    removed: list[str],
) -> int:
    """Responses anonymized; the text answers taken out are added to `removed`."""
    changed = 0
    for chunk in _chunks(send_ids):
        for response in session.scalars(select(Response).where(Response.send_id.in_(chunk))):
            response.contact_key = pseudonym
            response.client = None  # a keyed hash of their address and browser
            kept = _kept_answers(response.answers, free_text.get(response.survey_id))
            removed += [
                value
                for name, value in response.answers.items()
                if name not in kept and isinstance(value, str)
            ]
            response.answers = kept
            changed += 1
    return changed


def _kept_answers(answers: Mapping[str, Any], free_text: frozenset[str] | None) -> dict[str, Any]:
    """Scores and choices stay for the aggregates; free text may name anyone and goes."""
    if free_text is None:
        return {k: v for k, v in answers.items() if isinstance(v, int | float | bool)}
    return {k: v for k, v in answers.items() if k not in free_text}


def _erase_tasks(
    session: Session,
    keys: set[tuple[str, str]],
    email: str,
    pseudonym: str,
    placeholder: str,
    successors: Mapping[tuple[str, str], str],
    now: datetime,
) -> int:
    changed = 0
    for survey_id, contact_key in sorted(keys):
        changed += _rowcount(
            session.execute(
                update(Task)
                .where(Task.survey_id == survey_id, Task.contact_key == contact_key)
                .values(
                    contact_key=pseudonym, title=ERASED_TITLE, note=None, events=None, context={}
                )
            )
        )
    named: set[int] = set()  # tasks changed below, each counted once
    for task in session.scalars(select(Task).where(Task.assignee == email)):
        successor = successors.get((task.survey_id, task.rule_id))
        if task.status == "open" and successor and successor != email:
            record_event(task, "reassigned", now, to=successor, text="the assignee was erased")
            line = f"{now:%Y-%m-%d %H:%M} reassigned to {successor}: the assignee was erased"
            task.note = f"{task.note}\n{line}" if task.note else line
            task.assignee = successor
            task.assignment += 1  # the erased assignee's links stop working
        else:
            task.assignee = placeholder
        named.add(task.id)
    naming = or_(
        mentions(Task.title, email),
        mentions(Task.note, email),
        mentions(Task.context, email),
        mentions(Task.events, email),  # a reassignment's from and to
    )
    for task in session.scalars(select(Task).where(naming)):
        task.title = _replaced(task.title, email, placeholder)
        task.note = _replaced(task.note, email, placeholder)
        task.context = _replaced(task.context, email, placeholder)
        task.events = _replaced(task.events, email, placeholder)
        named.add(task.id)
    return changed + len(named)


def _erase_contact_copies(session: Session, email: str, placeholder: str) -> int:
    """Other people's ledger rows whose copy of their source row names `email` (an
    assignee's column): each such value becomes `placeholder`. A scan of the ledger."""
    changed = 0
    for send in session.scalars(select(Send).where(mentions(Send.contact, email))):
        send.contact = _replaced(send.contact, email, placeholder)
        changed += 1
    return changed


def _erase_inbound_events(session: Session, email: str, pseudonym: str) -> tuple[int, int, int]:
    """Delete the events that mention `email`, with what each triggered survey made of
    them; a `dedupe` value naming them becomes the pseudonym (still one per person).
    The counts: events, outcomes, dedupe values."""
    about = select(InboundEvent.id).where(mentions(InboundEvent.data, email))
    outcomes = _rowcount(
        session.execute(delete(TriggerProcessed).where(TriggerProcessed.event_id.in_(about)))
    )
    deleted = _rowcount(session.execute(delete(InboundEvent).where(InboundEvent.id.in_(about))))
    named = list(
        session.scalars(select(TriggerDedupe).where(mentions(TriggerDedupe.dedupe, email)))
    )
    for row in named:
        row.dedupe = _replaced(row.dedupe, email, pseudonym)[:255]
    return deleted, outcomes, len(named)


def _replaced(value: Any, email: str, placeholder: str) -> Any:
    """`value` (text, or JSON data) with every mention of `email`, in any case, replaced."""
    if isinstance(value, str):
        return re.sub(re.escape(email), placeholder, value, flags=re.IGNORECASE)
    if isinstance(value, dict):
        return {k: _replaced(v, email, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, email, placeholder) for v in value]
    return value


def _erase_notifications(session: Session, email: str, placeholder: str) -> int:
    changed = 0
    for notification in session.scalars(
        select(Notification).where(
            or_(Notification.recipient == email, Notification.key.contains(email))
        )
    ):
        notification.recipient = notification.recipient.replace(email, placeholder)
        notification.key = notification.key.replace(email, placeholder)
        notification.error = None
        changed += 1
    return changed


def _rewrite_storage(
    store: Store, changed: list[str], erasing_xid: str, wait_seconds: float
) -> list[int]:
    """Leave no copy of the old values in free pages (SQLite) or in dead tuples and
    index pages of the `changed` tables (PostgreSQL; each is locked while rewritten).

    On PostgreSQL, the backends still open since before transaction `erasing_xid`
    after `wait_seconds` (their snapshots keep the old versions); else [].
    """
    if store.dialect == "sqlite":
        raw = store.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            for statement in (
                "PRAGMA secure_delete = ON",
                "PRAGMA wal_checkpoint(TRUNCATE)",
                "VACUUM",
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ):
                driver.execute(statement)
        finally:
            raw.close()
        return []
    if not changed:
        return []
    with store.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + wait_seconds
        kept_by = _wait_for_older(connection, erasing_xid, deadline)
        for table in changed:
            connection.exec_driver_sql(f"VACUUM (FULL) {table}")
        # The planner's statistics keep sample values (an address among a column's most
        # common values or histogram bounds): computed again from the erased rows, and
        # the catalog rewritten so that the old ones leave its file too.
        for table in changed:
            connection.exec_driver_sql(f"ANALYZE {table}")
        if _may_vacuum_catalogs(connection):
            # The old statistics are dead row versions of pg_statistic now, which
            # `VACUUM (FULL)` keeps while a snapshot taken before the ANALYZEs lives (an
            # autovacuum busy with another table, a test's pooled connection): wait for
            # those too, or the addresses stay in the catalog's file.
            analyzed_xid = str(connection.execute(text("SELECT pg_current_xact_id()")).scalar())
            _wait_for_older(connection, analyzed_xid, deadline)
            connection.exec_driver_sql("VACUUM (FULL) pg_catalog.pg_statistic")
        return kept_by


def _may_vacuum_catalogs(connection: Connection) -> bool:
    """A superuser or the database's owner may rewrite `pg_statistic` (others are skipped
    with a warning by PostgreSQL)."""
    return bool(
        connection.execute(
            text(
                "SELECT r.rolsuper OR pg_has_role(current_user, d.datdba, 'MEMBER')"
                " FROM pg_roles r, pg_database d"
                " WHERE r.rolname = current_user AND d.datname = current_database()"
            )
        ).scalar()
    )


def _wait_for_older(connection: Connection, xid: str, deadline: float) -> list[int]:
    """Wait until no backend began before transaction `xid` committed, or `deadline`
    (`time.monotonic`) passes; the ones still there."""
    while (older := _older_transactions(connection, xid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return older


def _older_transactions(connection: Connection, erasing_xid: str) -> list[int]:
    """Backends of this database whose snapshot or transaction began before transaction
    `erasing_xid` (an xid8) committed: they may still see the rows it changed."""
    xid = str(int(erasing_xid) % 2**32)  # pg_stat_activity has 32-bit xids; age() wraps
    rows = connection.execute(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
            " AND (age(backend_xmin) >= age(CAST(:xid AS xid))"
            " OR age(backend_xid) >= age(CAST(:xid AS xid))) ORDER BY pid"
        ),
        {"xid": xid},
    )
    return [int(pid) for pid in rows.scalars()]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
