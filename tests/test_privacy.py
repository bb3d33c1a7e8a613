"""Invariants of `cxops forget` and `cxops export person`, on SQLite and PostgreSQL:

- after `forget`, the address (in any case) and the person's name appear in no row of
  any table, in no outbox file, and nowhere in the database's bytes — free pages of the
  SQLite file, PostgreSQL's table, index and TOAST files after a checkpoint;
- answers stay for the aggregates (scores kept, free text gone), other people's rows
  are untouched;
- the erasure is recorded under a keyed hash, never the address; a second `forget`
  changes nothing and records nothing new;
- `export person` lists everything stored about the person before, nothing after;
- nothing is left beside the store's rows about them: malformed webhook events naming
  them, their preview files (`KEY.html`/`.txt` name them without the address), reports
  quoting their answers; an erased assignee's address leaves task notes and other
  people's ledger contact copies (`csm_email`), and their open tasks go to the rule's
  fallback.
"""

from __future__ import annotations

import html
import json
import mailbox
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select, text

from cxops.store.db import open_store
from cxops.store.models import (
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
from cxops.testing.followup import FALLBACK, add_response, at, write_survey

PERSON = "c1@customer.example"
NAME = "Zoltan Quixwell"
OTHER = "c2@customer.example"
WHEN = at("2026-11-23T08:00:00+00:00")


def _seed(project, store_url: str) -> None:
    write_survey(project.root)
    store = open_store(store_url)
    try:
        first = add_response(
            store,
            "c1",
            {"score": 3, "reason": f"I am {NAME} and I am unhappy"},
            when=WHEN,
            contact={"name": NAME},
        )
        add_response(store, "c2", {"score": 9, "reason": "fine"}, when=WHEN)
        with store.session() as session:
            session.add(
                Task(
                    response_id=first,
                    survey_id="nps-test",
                    wave_id="2026-11",
                    contact_key="c1",
                    segment="smb",
                    rule_id="detractor",
                    rule_version="v1",
                    title=f"Call {NAME} about their score of 3",
                    assignee="csm.anna@acme.example",
                    priority="high",
                    note=f"{NAME} said call after 5",
                    context={"name": NAME, "plan": "team"},
                    created_at=WHEN,
                    due_at=WHEN,
                )
            )
            session.add(
                Suppression(
                    email=PERSON, reason="unsubscribed", source="collector", created_at=WHEN
                )
            )
            session.add(WebhookEvent(event_id="e1", event="open", email=PERSON, received_at=WHEN))
            send_id = session.scalar(select(Send.send_id).where(Send.email == PERSON))
            session.add(
                Interview(
                    send_id=send_id,
                    survey_id="nps-test",
                    wave_id="2026-11",
                    contact_key="c1",
                    email=PERSON,
                    status="booked",
                    answered_at=WHEN,
                    booking_uri=f"https://calendly.example/invitees/{PERSON}",
                    updated_at=WHEN,
                    incentive="voucher",
                    incentive_amount=50.0,
                    incentive_currency="EUR",
                    incentive_status="owed",
                )
            )
            session.add(
                Notification(
                    key=f"digest:{PERSON}:2026-11-23",
                    kind="digest",
                    recipient=PERSON,
                    created_at=WHEN,
                )
            )
    finally:
        store.dispose()
    outbox = project.root / "outbox" / "nps-test" / "2026-11"
    outbox.mkdir(parents=True)
    box = mailbox.mbox(outbox / "batch-000001.mbox")
    for address, name in ((PERSON, NAME), (OTHER, "Other Person")):
        message = EmailMessage()
        message["From"] = "research@acme.example"
        message["To"] = f"{name} <{address.upper() if address == PERSON else address}>"
        message["Subject"] = "How are we doing?"
        message.set_content(f"Hello {name}, ünïcode body for {address}\n", cte="quoted-printable")
        box.add(message)
    box.flush()
    box.close()


def _everything(store_url: str) -> str:
    """Every value of every table, as one lower-cased text."""
    store = open_store(store_url)
    try:
        with store.engine.connect() as connection:
            tables = ["sends", "responses", "tasks", "suppressions", "webhook_events"]
            tables += ["notifications", "erasures", "waves", "interviews", "webhook_rejects"]
            tables += ["inbound_events", "trigger_processed", "trigger_dedupe"]
            rows = [
                repr(tuple(row))
                for table in tables
                for row in connection.execute(text(f"SELECT * FROM {table}"))
            ]
    finally:
        store.dispose()
    return "\n".join(rows).lower()


def _postgresql_relation_files(store_url: str) -> bytes:
    """The bytes of every table, index and TOAST file of the store and of the planner's
    statistics (`pg_statistic`: sample values of each column), as on disk after a
    checkpoint (read by the server: `pg_read_binary_file` needs a superuser, which the
    test server's user is). Write-ahead log segments are not included (see tests/README)."""
    store = open_store(store_url)
    try:
        with store.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("CHECKPOINT")
            paths = connection.execute(
                text(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE (n.nspname IN ('public', 'pg_toast')"
                    " OR c.oid = 'pg_catalog.pg_statistic'::regclass)"
                    " AND c.relkind IN ('r', 'i', 't') AND pg_relation_filepath(c.oid) IS NOT NULL"
                )
            ).scalars()
            return b"".join(
                connection.execute(text("SELECT pg_read_binary_file(:p)"), {"p": path}).scalar()
                for path in paths
            )
    finally:
        store.dispose()


def _analyze(store_url: str) -> None:
    store = open_store(store_url)
    try:
        with store.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    finally:
        store.dispose()


def test_forget_erases_everywhere_and_keeps_the_aggregates(project, store_url):
    env = {"CXOPS_DATABASE_URL": store_url}
    project.settings()  # the signing key is generated once
    _seed(project, store_url)
    before = project.run(["export", "person", PERSON.upper()], env=env).json
    assert before["email"] == PERSON and len(before["sends"]) == 1
    assert before["responses"][0]["answers"]["score"] == 3
    assert [t["title"] for t in before["tasks"]] == [f"Call {NAME} about their score of 3"]
    assert len(before["suppressions"]) == len(before["webhook_events"]) == 1
    assert len(before["notifications"]) == len(before["outbox_messages"]) == 1
    assert [i["incentive_status"] for i in before["interviews"]] == ["owed"]
    assert before["erasures"] == []

    if store_url.startswith("postgresql"):  # statistics with the address among their samples
        _analyze(store_url)
    result = project.run(["forget", PERSON.title(), "--json"], env=env).json
    assert result["erased"]["sends"] == 1 and result["erased"]["outbox_messages"] == 1
    assert result["erased"]["interviews"] == 1
    assert not result["already_erased"]

    stored = _everything(store_url)
    assert PERSON not in stored and NAME.lower() not in stored
    assert OTHER in stored and "fine" in stored, "other people's rows are untouched"
    assert result["subject"] in stored, "the erasure is recorded under its keyed hash"
    mbox = project.root / "outbox" / "nps-test" / "2026-11" / "batch-000001.mbox"
    remaining = mailbox.mbox(mbox)
    assert [m["To"] for m in remaining] == [f"Other Person <{OTHER}>"]
    remaining.close()
    files = b"".join(p.read_bytes() for p in (project.root / "outbox").rglob("*") if p.is_file())
    assert PERSON.encode() not in files.lower() and NAME.encode() not in files
    if store_url.startswith("sqlite"):
        database = Path(store_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    else:
        raw = _postgresql_relation_files(store_url)
    assert PERSON.encode() not in raw.lower() and NAME.encode() not in raw

    after = project.run(["export", "person", PERSON], env=env).json
    assert after["sends"] == after["responses"] == after["tasks"] == []
    assert after["outbox_messages"] == [] and len(after["erasures"]) == 1

    report = _report(project, env)
    assert report == {"scores": [3, 9], "reasons": ["fine"]}, "answers kept, free text gone"

    again = project.run(["forget", PERSON, "--json"], env=env).json
    assert again["already_erased"] and not any(again["erased"].values())
    assert len(project.run(["export", "person", PERSON], env=env).json["erasures"]) == 1
    human = project.run(["forget", PERSON], env=env).stdout
    assert "already erased" in human and PERSON not in human


def _report(project, env) -> dict[str, list]:
    exported = project.run(["export", "responses", "nps-test", "--format", "jsonl"], env=env).stdout
    rows = [json.loads(line) for line in exported.splitlines() if line.strip()]
    return {
        "scores": sorted(row["answers"]["score"] for row in rows),
        "reasons": sorted(row["answers"]["reason"] for row in rows if "reason" in row["answers"]),
    }


def test_forget_refuses_a_malformed_address(project):
    result = project.run(["forget", "not-an-address"], expect_pass=False)
    assert "expected an email address" in result.stderr and "Traceback" not in result.output


def test_forget_waits_for_transactions_that_could_still_see_the_old_rows(project, postgres_url):
    """VACUUM (FULL) keeps a row version a snapshot open since before the erasure may
    see (found when an autovacuum's ANALYZE ran during this file's first test): `forget`
    waits for such transactions, names those it could not wait out, and a repeat
    rewrites the tables once they have ended."""
    import threading

    from cxops.privacy.erase import forget_person
    from cxops.privacy.subject import Subject

    env = {"CXOPS_DATABASE_URL": postgres_url}
    settings = project.settings(CXOPS_DATABASE_URL=postgres_url)
    _seed(project, postgres_url)
    store = open_store(postgres_url)
    try:
        holder = store.engine.connect()
        holder.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.exec_driver_sql("SELECT 1")  # a snapshot from before the erasure, no lock
        pid = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        subject = Subject.of(PERSON, settings.signing_key())
        report = forget_person(
            store,
            subject,
            now=settings.clock(),
            free_text={},
            folders=[settings.outbox_path],
            wait_seconds=0.5,
        )
        assert report.changed and report.kept_by == [pid]
        assert PERSON.encode() in _postgresql_relation_files(postgres_url).lower()
        holder.rollback()  # the snapshot ends: a repeat now rewrites the tables clean
        again = project.run(["forget", PERSON], env=env)
        assert again.stdout.startswith("already erased") and "warning" not in again.stderr
        assert PERSON.encode() not in _postgresql_relation_files(postgres_url).lower()

        holder.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.exec_driver_sql("SELECT 1")
        with store.session(write=True) as session:  # a second person, erased while it waits
            session.execute(
                text("UPDATE sends SET email = 'late@customer.example' WHERE email = :e"),
                {"e": OTHER},
            )
        threading.Timer(2.0, holder.rollback).start()
        waited = project.run(["forget", "late@customer.example", "--json"], env=env).json
        assert waited["erased"]["sends"] == 1 and waited["kept_by"] == []
        assert b"late@customer.example" not in _postgresql_relation_files(postgres_url).lower()
        holder.close()
    finally:
        store.dispose()


CSM = "csm.anna@acme.example"


def _leftovers(project, store_url: str) -> None:
    """What `forget` used to leave behind: a malformed signed event naming the person,
    their preview files, a report quoting them, a reassignment line naming the CSM."""
    store = open_store(store_url)
    try:
        with store.session(write=True) as session:
            item = {"email": PERSON, "name": NAME, "event": "open", "timestamp": "soon"}
            session.add(
                WebhookReject(received_at=WHEN, reason="bad timestamp", item=json.dumps(item))
            )
            for event_id, requester in (("evt_them", PERSON.upper()), ("evt_other", "o@x.example")):
                data = {"requester": {"email": requester, "name": NAME}, "ticket": {"id": 1}}
                session.add(
                    InboundEvent(
                        event_id=event_id,
                        type="ticket.solved",
                        occurred_at=WHEN,
                        received_at=WHEN,
                        data=data if requester != "o@x.example" else {"requester": requester},
                        credential="key:zendesk",
                    )
                )
            session.flush()
            # What a triggered survey made of their event, deduplicated by their address.
            theirs = session.scalars(
                select(InboundEvent.id).where(InboundEvent.event_id == "evt_them")
            ).one()
            session.add(
                TriggerProcessed(
                    survey_id="csat", event_id=theirs, outcome="invited", processed_at=WHEN
                )
            )
            session.add(
                TriggerDedupe(
                    survey_id="csat",
                    dedupe=f"{PERSON}:1",
                    event_id="evt_them",
                    send_id="s-them",
                    created_at=WHEN,
                )
            )
            answer = session.scalars(select(Response).where(Response.contact_key == "c2")).one()
            session.add(
                Task(
                    response_id=answer.id,
                    survey_id="nps-test",
                    wave_id="2026-11",
                    contact_key="c2",
                    segment="smb",
                    rule_id="detractor",
                    rule_version="v1",
                    title="Call Customer c2",
                    assignee=CSM,
                    priority="normal",
                    note=f"2026-11-23 09:00 reassigned from csm.bo@acme.example to {CSM}",
                    events=[  # what the task page says, in its reader's language
                        {
                            "kind": "reassigned",
                            "at": "2026-11-23T09:00:00+00:00",
                            "from": "csm.bo@acme.example",
                            "to": CSM,
                        }
                    ],
                    created_at=WHEN,
                    due_at=WHEN,
                )
            )
    finally:
        store.dispose()
    preview = project.root / "preview"
    preview.mkdir()
    (preview / "c1.html").write_text(f"<p>Hello {html.escape(NAME)}</p>", encoding="utf-8")
    (preview / "c1.txt").write_text(f"Subject: Hi\n\nHello {NAME}", encoding="utf-8")
    (preview / "c1.eml").write_text(f"To: {NAME} <{PERSON}>\n\nHello", encoding="utf-8")
    (preview / "c2.html").write_text("<p>Hello Other Person</p>", encoding="utf-8")
    reports = project.root / "reports"
    reports.mkdir()
    quote = html.escape(f"I am {NAME} and   I am unhappy")  # as the report shows it
    (reports / "nps-test.html").write_text(f"<blockquote>{quote}</blockquote>", encoding="utf-8")
    (reports / "csat.html").write_text("<blockquote>fine</blockquote>", encoding="utf-8")


def _stored_bytes(store_url: str) -> bytes:
    if store_url.startswith("sqlite"):
        database = Path(store_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    return _postgresql_relation_files(store_url)


def test_forget_leaves_no_copy_behind(project, store_url):
    env = {"CXOPS_DATABASE_URL": store_url}
    project.settings()
    _seed(project, store_url)
    _leftovers(project, store_url)
    before = project.run(["export", "person", PERSON], env=env).json
    assert [json.loads(r["item"])["name"] for r in before["webhook_rejects"]] == [NAME]
    [event] = before["inbound_events"]
    assert (event["event_id"], event["data"]["requester"]["name"]) == ("evt_them", NAME)
    assert [o["outcome"] for o in event["outcomes"]] == ["invited"]
    assert [d["dedupe"] for d in event["dedupe"]] == [f"{PERSON}:1"]

    forgot = project.run(["forget", PERSON, "--json"], env=env).json
    assert forgot["erased"]["webhook_rejects"] == 1
    assert forgot["erased"]["inbound_events"] == 1
    assert forgot["erased"]["event_outcomes"] == forgot["erased"]["event_dedupe_values"] == 1
    removed = sorted(Path(f).relative_to(project.root).as_posix() for f in forgot["files"])
    assert removed == [
        "outbox/nps-test/2026-11/batch-000001.mbox",
        "preview/c1.eml",
        "preview/c1.html",
        "preview/c1.txt",
        "reports/nps-test.html",
    ]
    assert [Path(f).name for f in forgot["reports_removed"]] == ["nps-test.html"]
    assert (project.root / "preview" / "c2.html").exists()
    assert (project.root / "reports" / "csat.html").exists()
    stored = _everything(store_url)
    assert PERSON not in stored and NAME.lower() not in stored
    after = project.run(["export", "person", PERSON], env=env).json
    assert after["webhook_rejects"] == after["inbound_events"] == []
    assert "evt_other" in stored, "an event about someone else stays"

    assert CSM in stored, "the CSM is still in a task note and in c2's contact copy"
    forgot_csm = project.run(["forget", CSM, "--json"], env=env).json
    assert (forgot_csm["erased"]["contact_copies"], forgot_csm["erased"]["tasks"]) == (1, 2)
    stored = _everything(store_url)
    assert CSM not in stored and "csm.bo@acme.example" in stored
    store = open_store(store_url)
    try:
        with store.session() as session:
            open_task = session.scalars(select(Task).where(Task.status == "open")).one()
    finally:
        store.dispose()
    assert (open_task.assignee, open_task.assignment) == (FALLBACK, 1), "the rule's fallback"
    assert open_task.note is not None and open_task.note.endswith(
        f"reassigned to {FALLBACK}: the assignee was erased"
    )
    assert forgot_csm["kept_by"] == [], "no transaction kept old row versions"
    assert CSM.encode() not in _stored_bytes(store_url).lower()
