"""The store's tables (SQLAlchemy 2). The cxops store, not Prefect, is the truth.

Changing a table means a new Alembic migration in `cxops/store/migrations/`.
Emails are stored normalized (see `cxops.audience.contacts.normalize_email`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in UTC on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Wave(Base):
    """One invitation round of a survey."""

    __tablename__ = "waves"
    __table_args__ = (UniqueConstraint("survey_id", "wave_id", name="uq_waves_survey_wave"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    wave_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: `planned` once the audience is in the ledger, `complete` when nothing is pending.
    status: Mapped[str] = mapped_column(String(16), default="planning")
    #: The wave summary of the planning step (audience, filtered_out, excluded, bad_rows …).
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Set while the deliverability breaker holds the wave (see migration 0018).
    paused_at: Mapped[datetime | None]
    #: The last pause's reason ("bounce rate", "complaint rate") and figures.
    pause_reason: Mapped[str | None] = mapped_column(String(64))
    pause_figures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: When a person last resumed it: the breaker then judges the messages sent since.
    resumed_at: Mapped[datetime | None]


class Send(Base):
    """The send ledger: one row per person, survey, wave and step (0 invitation, N reminder N).

    The row is committed before the message leaves. Status: `pending` -> `sending`
    (claimed by `claim_id`) -> `sent` | `failed`; a `sending` row whose run died is
    `in_doubt` and is not sent again unless asked.
    """

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint(
            "survey_id", "wave_id", "contact_key", "step", name="uq_sends_survey_wave_contact_step"
        ),
        # (batch, id) last: a claim reads its batch in order instead of sorting the wave.
        Index("ix_sends_claim", "survey_id", "wave_id", "step", "status", "batch", "id"),
        # A provider event carrying only its message id finds its sends (webhooks).
        Index("ix_sends_provider_id", "provider_id"),
        # `cxops send-due` and `status`: the steps with rows due or waiting, without a scan
        # of every row ever sent. Partial: a row leaves it when it is claimed.
        Index(
            "ix_sends_pending",
            "survey_id",
            "wave_id",
            "step",
            "not_before",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    #: Random, unguessable id carried by signed tokens and SendGrid custom_args.
    send_id: Mapped[str] = mapped_column(String(32), unique=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    wave_id: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(Integer, default=0)
    contact_key: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    segment: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    #: The contact's source fields at planning time, JSON-safe (dates as ISO text).
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    batch: Mapped[int] = mapped_column(Integer, default=0)
    claim_id: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    #: The earliest time the row may leave (None: due at once); claims take only due rows.
    not_before: Mapped[datetime | None]
    #: Why the row waits (the gate that held it back), while it does.
    held: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
    #: The invitation variant the row was assigned (None: the survey has no variants).
    variant: Mapped[str | None] = mapped_column(String(32))
    #: A hidden link no person sees was fetched: answers through this send are suspect.
    honeypot_at: Mapped[datetime | None]
    #: The clients that fetched it (`cxops.collect.clients.client_hash`, at most 16).
    honeypot_clients: Mapped[list[str] | None] = mapped_column(JSON)


class Suppression(Base):
    """An address that is never invited again (unsubscribed, bounced, spam)."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Response(Base):
    """One response per invitation; a second submit updates it."""

    __tablename__ = "responses"
    __table_args__ = (
        # A contact's answers by lookup (the report's later answers of contacts with
        # tasks). Contact first, so it never competes with `ix_responses_survey_id`
        # for a survey's scans (migration 0010).
        Index("ix_responses_contact_survey", "contact_key", "survey_id"),
        # What changed since a moment: the outbound webhooks' scan (migration 0021).
        Index("ix_responses_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    send_id: Mapped[str] = mapped_column(ForeignKey("sends.send_id"), unique=True)
    survey_id: Mapped[str] = mapped_column(String(64), index=True)
    wave_id: Mapped[str] = mapped_column(String(64))
    contact_key: Mapped[str] = mapped_column(String(255))
    segment: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    #: `partial` (a score from the email) or `complete` (the form was submitted);
    #: either may still be provisional (see `confirmed_at`).
    status: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    suspect: Mapped[bool] = mapped_column(Boolean, default=False)
    suspect_reason: Mapped[str | None] = mapped_column(String(255))
    first_answered_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    #: Bumped on every change, so follow-up rules re-run on edits.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    #: When a person confirmed the answer (a real pointer or key event on the page, or
    #: the form's submit). None: provisional (a one-click score a link scanner may have
    #: loaded): kept and shown to the person, counted nowhere (`counted_responses`).
    confirmed_at: Mapped[datetime | None]
    #: The client whose save last changed the answers (a keyed hash, see `honeypot_clients`).
    client: Mapped[str | None] = mapped_column(String(64))


class WebhookEvent(Base):
    """SendGrid events already applied (idempotency by sg_event_id).

    `email` is kept only when the event matched a send of the ledger (data minimisation:
    an event about an address never mailed keeps no address).
    """

    __tablename__ = "webhook_events"
    #: The breaker reads the events received since a wave started (migration 0018).
    __table_args__ = (Index("ix_webhook_events_received_at", "received_at"),)

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    send_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    received_at: Mapped[datetime]
    #: What the event did or why not: `blocked (temporary)`, a drop reason, `no such send` …
    detail: Mapped[str | None] = mapped_column(String(400))


class WebhookReject(Base):
    """A webhook item that could not be read, kept aside with the reason (the valid items
    of its batch were applied and the batch answered 2xx, so SendGrid does not retry)."""

    __tablename__ = "webhook_rejects"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(255))
    #: The item as received (JSON, cut at 2,000 characters).
    item: Mapped[str] = mapped_column(Text)


class InboundEvent(Base):
    """An event received on `POST /api/v1/events` (a ticket solved, a deal won).

    `event_id` is the sender's id and unique: an event delivered twice is stored once.
    `credential` says what authenticated it: `key:NAME` (an API key) or `webhook` (a
    Standard Webhooks signature). `survey_id`: the survey of a key limited to one
    (`cxops keys create NAME --survey ID`): only that survey plans from the event.
    """

    __tablename__ = "inbound_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(255), index=True)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    credential: Mapped[str] = mapped_column(String(140))
    survey_id: Mapped[str | None] = mapped_column(String(64))


class TriggerDedupe(Base):
    """One invitation per (triggered survey, dedupe value), ever: the event that made it
    and the ledger row (`send_id`) written in the same transaction."""

    __tablename__ = "trigger_dedupe"
    __table_args__ = (
        UniqueConstraint("survey_id", "dedupe", name="uq_trigger_dedupe_survey_id_dedupe"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    dedupe: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255))
    send_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class TriggerProcessed(Base):
    """A stored event one triggered survey has looked at, and what came of it (`outcome`:
    `invited`, `duplicate`, or why not), so no later run looks at it again."""

    __tablename__ = "trigger_processed"
    __table_args__ = (
        UniqueConstraint("survey_id", "event_id", name="uq_trigger_processed_survey_id_event"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    #: `inbound_events.id` (the store's id, not the sender's).
    event_id: Mapped[int] = mapped_column(ForeignKey("inbound_events.id"))
    outcome: Mapped[str] = mapped_column(String(255))
    processed_at: Mapped[datetime]


class ApiKey(Base):
    """A key that may post events (`cxops keys create`), kept as a keyed hash only.

    `key_hash` is HMAC-SHA256 of the key under the project's signing key: the key cannot
    be read back. `survey_id`: the survey the key is meant for (None: any).
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    survey_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Task(Base):
    """A follow-up for a human: one per (response, rule)."""

    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("response_id", "rule_id", name="uq_tasks_response_rule"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"))
    survey_id: Mapped[str] = mapped_column(String(64), index=True)
    wave_id: Mapped[str] = mapped_column(String(64))
    contact_key: Mapped[str] = mapped_column(String(255))
    segment: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    #: Hash of the rule's text: a changed rule can be replayed.
    rule_version: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    assignee: Mapped[str] = mapped_column(String(320), index=True)
    priority: Mapped[str] = mapped_column(String(8))
    #: `open`, `done` or `withdrawn`; overdue is open and past due_at.
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    first_action_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    #: Reassignments so far; a task link carries it (an old assignee's link stops working).
    assignment: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The latest snooze: out of digests and escalation while now < snoozed_until.
    snoozed_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    #: Snoozed time of the earlier snoozes (the loop measures report it apart).
    snoozed_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The rule's playbook when the task was made, and the indexes of the steps ticked.
    steps: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    steps_done: Mapped[list[int] | None] = mapped_column(JSON, default=list)
    #: What happened to the task, oldest first: `{"kind", "at" (UTC ISO), …values}`
    #: (`cxops.store.tasks.EVENT_KINDS`); NULL on tasks from before events were kept.
    events: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class Notification(Base):
    """An email or webhook about tasks, sent at most once per key.

    Keys: `escalation:<task>:<step>`, `digest:<assignee>:<yyyy-mm-dd>`, `notify:<task>`,
    `assigned:<task>:<assignment>`. Status: `pending` (claimed by `claim_id`, not yet
    handed to a channel) -> `sending` (handed to it) -> `sent` | `failed` | `retry` |
    `in_doubt`; see `cxops.store.notifications`.
    """

    __tablename__ = "notifications"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    #: The run that claimed it last (`host:pid:uuid`) and when: a dead run's claim is
    #: claimed again (`pending`) or in doubt (`sending`).
    claim_id: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None]


class Interview(Base):
    """One person's way through an interview study: accepted → booked → completed (or not).

    One row per invitation (`send_id`, the reference people and Calendly carry).
    Status: `accepted`, `screened_out`, `declined`, `booked`, `completed`, `no_show`,
    `cancelled`; accepted, booked and completed hold a place towards the goal.
    """

    __tablename__ = "interviews"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    send_id: Mapped[str] = mapped_column(ForeignKey("sends.send_id"), unique=True)
    survey_id: Mapped[str] = mapped_column(String(64), index=True)
    wave_id: Mapped[str] = mapped_column(String(64))
    contact_key: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320), index=True)
    status: Mapped[str] = mapped_column(String(16))
    #: sha256 of the consent text the person ticked, and when.
    consent_sha256: Mapped[str | None] = mapped_column(String(64))
    consent_at: Mapped[datetime | None]
    answered_at: Mapped[datetime]
    booked_at: Mapped[datetime | None]
    #: The booking at the scheduler (Calendly's invitee URI) and the interview's start.
    booking_uri: Mapped[str | None] = mapped_column(String(400))
    starts_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    incentive: Mapped[str | None] = mapped_column(Text)
    incentive_amount: Mapped[float | None] = mapped_column(Float)
    incentive_currency: Mapped[str | None] = mapped_column(String(3))
    #: `none`, `owed` (completed) or `paid`.
    incentive_status: Mapped[str] = mapped_column(String(8), default="none")
    paid_at: Mapped[datetime | None]
    #: Every change: [{"at", "status", "source"}].
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Erasure(Base):
    """A person's data was erased (`cxops forget`), recorded without their address.

    `subject` is a keyed hash (HMAC-SHA256 under the project's signing key) of the
    normalized address: the same person gives the same subject, so a repeated request
    is recognised, but the address cannot be read back from it.
    """

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    erased_at: Mapped[datetime]
    #: What was erased: table or place -> how many rows or messages.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebhookEndpointState(Base):
    """One configured outbound webhook endpoint, as the store remembers it.

    `name` is the URL, or `env:NAME` when the URL is read from a variable. Events that
    happened after `scanned_until` have not been looked for yet (the scan looks back a
    little further, see `cxops.webhooks.scan`); nothing before `created_at` (when the
    endpoint was first configured) is sent. A 410 Gone answer disables it.
    """

    __tablename__ = "webhook_endpoints"

    name: Mapped[str] = mapped_column(String(400), primary_key=True)
    created_at: Mapped[datetime]
    scanned_until: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    #: Why the last run could not deliver at all (a variable not set, a bad secret).
    error: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Base):
    """One event for one endpoint: the outbox of outbound webhooks.

    `delivery_id` (the `webhook-id` header) is derived from (endpoint, event_key), so it
    is the same on every attempt. Status: `pending` (due at `next_attempt_at`; a claim
    moves that time forward by a lease) -> `delivered` | `dead` (after the last attempt,
    or a 410) | `erased` (the person was erased before it went out; no payload kept).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint", "event_key", name="uq_webhook_deliveries_endpoint_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_contact_key", "contact_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(String(400))
    event_key: Mapped[str] = mapped_column(String(400))
    type: Mapped[str] = mapped_column(String(32))
    contact_key: Mapped[str | None] = mapped_column(String(255))
    #: The body as sent (`{"type", "timestamp", "data"}`), fixed when the event is queued.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class CrmContact(Base):
    """What cxops last wrote onto one person's CRM contact (`cxops crm push`).

    `person` is the keyed hash `forget` records erasures under, never the address.
    `values` holds property -> value as last written (or, with no `contact_id`, as
    wanted when no contact was found, `checked_at`). `erase_pending`: `forget` asked to
    clear these properties and the CRM was unreachable; the next push clears them.
    """

    __tablename__ = "crm_contacts"

    crm: Mapped[str] = mapped_column(String(16), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[str | None] = mapped_column(String(64))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checked_at: Mapped[datetime]
    written_at: Mapped[datetime | None]
    erase_pending: Mapped[bool] = mapped_column(Boolean, default=False)


class HealthCheck(Base):
    """One row the collector's `/healthz` writes, to prove the store takes writes."""

    __tablename__ = "health_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime]
