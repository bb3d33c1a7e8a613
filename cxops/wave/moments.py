"""Stored events become invitations of the triggered surveys that answer to their type.

For each survey with `trigger:`, each stored event of its type it has not looked at yet
(`trigger_processed`; an event posted with a key limited to another survey is never
its) is mapped to a contact (`cxops.audience.events`), run through the audience
pipeline like a source row (filter, segments, the store's history: erased,
unsubscribed, bounced, `surveyed_within`), and the survey's gates are asked at PLAN
(cooldown, the contact policy, the send window: a hold makes the row wait). An event
that passes becomes one `pending` ledger row, due at the event's due time (or the
gate's hold, if later), in the wave named by the day it is due in the survey's time
zone; `cxops send-due` sends it when that time comes.

A pass reads the survey's history and builds its gates once (`MomentsBatch`) and asks
them for every new event, oldest first, so a backlog costs one read, not one per
event. What the batch plans counts against what it plans next: a person with an
invitation pending (planned by this pass or an earlier one) or sent within the
survey's `cooldown` gets no second one ("excluded: cooldown"), and a dedupe value is
taken once.

One invitation per (survey, dedupe value), ever: the `trigger_dedupe` row, the ledger
row and the `trigger_processed` mark are written in one transaction, so a crash leaves
either all of them or none, and a second run (or a concurrent one) finds the event
processed or the value taken and writes nothing.

Each day that gets invitations has its `waves` row (`cxops.wave.moments_waves`):
`status`, `report` and the closing of expired waves see a triggered survey's days as
they see scheduled waves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from cxops.audience import Tally, select_audience
from cxops.audience.eligibility import History
from cxops.audience.events import EventError, TriggeredContact, event_contact
from cxops.expr import Evaluator
from cxops.gates.base import Gates
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.holds import reason_text
from cxops.store.ledger import MAYBE_SENT, send_ids
from cxops.store.models import InboundEvent, Send, TriggerDedupe, TriggerProcessed
from cxops.store.sql import session_insert
from cxops.wave.ids import WaveContext
from cxops.wave.minimise import kept_columns, minimised
from cxops.wave.moments_waves import INVITED, DayTally, record_days
from cxops.wave.plan import GatesAtPlanning, history_and_gates, json_safe
from cxops.wave.variants import one_variant

DUPLICATE = "duplicate"
COOLDOWN = "excluded: cooldown"
#: The batch's gates and history leave no wave out (a triggered survey's days are many).
_EVERY_WAVE = ""


@dataclass
class MomentsSummary:
    """What one run made of the stored events: outcomes counted per survey."""

    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, survey_id: str, outcome: str) -> None:
        counts = self.outcomes.setdefault(survey_id, {})
        counts[outcome] = counts.get(outcome, 0) + 1

    @property
    def invited(self) -> int:
        return sum(counts.get(INVITED, 0) for counts in self.outcomes.values())


def plan_moments(
    store: Store, settings: Settings, surveys: Mapping[str, Survey], now: datetime
) -> MomentsSummary:
    """Turn every stored event not yet looked at into ledger rows of the triggered surveys
    in `surveys` that answer to its type (see the module docstring)."""
    summary = MomentsSummary()
    for survey in surveys.values():
        if survey.trigger is None:
            continue
        events = _unprocessed(store, survey)
        if not events:
            continue
        batch = MomentsBatch.open(store, settings, survey, now)
        for event in events:
            outcome = batch.plan(event)
            if outcome is not None:
                summary.count(survey.id, outcome)
        record_days(store, settings, survey, batch.days, now)
    return summary


def _unprocessed(store: Store, survey: Survey) -> list[dict[str, Any]]:
    """The survey's events of its type it has not looked at, oldest first."""
    assert survey.trigger is not None
    seen = select(TriggerProcessed.event_id).where(TriggerProcessed.survey_id == survey.id)
    query = (
        select(InboundEvent)
        .where(
            InboundEvent.type == survey.trigger.event,
            # An event of a key limited to another survey is not this survey's.
            or_(InboundEvent.survey_id.is_(None), InboundEvent.survey_id == survey.id),
            InboundEvent.id.not_in(seen),
        )
        .order_by(InboundEvent.id)
    )
    with store.session() as session:
        return [
            {
                "row": row.id,
                "id": row.event_id,
                "type": row.type,
                "occurred_at": row.occurred_at,
                "data": dict(row.data),
            }
            for row in session.scalars(query)
        ]


@dataclass
class MomentsBatch:
    """One survey's pass over its new events: the history and gates read once, and what
    the pass planned so far (each person's pending invitations, each wave's row count)."""

    store: Store
    settings: Settings
    survey: Survey
    now: datetime
    history: History
    gates: Gates
    #: email -> when each of their invitations of the survey is due or went out.
    invitations: dict[str, list[datetime]]
    #: The contact columns the ledger keeps (read from the templates once; None: all).
    kept: frozenset[str] | None
    #: wave -> step-0 rows (the ledger's `batch` number of the next row).
    rows: dict[str, int] = field(default_factory=dict)
    #: wave -> what this pass put into that day.
    days: dict[str, DayTally] = field(default_factory=dict)

    @classmethod
    def open(cls, store: Store, settings: Settings, survey: Survey, now: datetime) -> MomentsBatch:
        history, gates = history_and_gates(
            store, WaveContext(survey, settings, _EVERY_WAVE, now, 0)
        )
        invitations = _invitations(store, survey, now)
        kept = kept_columns(survey, settings)
        return cls(store, settings, survey, now, history, gates, invitations, kept)

    def plan(self, event: dict[str, Any]) -> str | None:
        """Write what `event` gives the survey (a ledger row, or only why not); the
        outcome, or None when another run had already looked at it."""
        survey, evaluator = self.survey, Evaluator(self.now, self.settings.holidays)
        try:
            triggered = event_contact(survey, event, evaluator)
        except EventError as exc:
            return _write(self, event, "", None, f"unusable: {exc}")
        row, outcome = self._decide(triggered)
        day = row["wave_id"] if row is not None else self._day(triggered.due_at)
        written = _write(self, event, triggered.dedupe, row, outcome)
        if written is not None:
            self.days.setdefault(day, DayTally()).count(written, row)
            if written == INVITED and row is not None:
                self.invitations.setdefault(row["email"], []).append(row["not_before"])
        return written

    def _decide(self, triggered: TriggeredContact) -> tuple[dict[str, Any] | None, str]:
        survey, settings = self.survey, self.settings
        asked_at = max(self.now, triggered.due_at)  # an event due in the past is due now
        tally = Tally()
        invitees = list(
            select_audience(
                _one_by_one(survey),
                [triggered.contact],
                evaluator=Evaluator(asked_at, settings.holidays),
                history=self.history,
                tally=tally,
                gate=GatesAtPlanning(self.gates, asked_at) if self.gates.gates else None,
            )
        )
        if not invitees:
            return None, _why_not(tally)
        invitee = invitees[0]
        contact = invitee.contact
        not_before, held = asked_at, None
        if invitee.waits is not None and invitee.waits.until > not_before:
            not_before, held = invitee.waits.until, reason_text(invitee.waits.reason)
        if self._cooling(contact.email, not_before):
            return None, COOLDOWN
        return {
            "wave_id": self._day(not_before),
            "contact_key": contact.key,
            "email": contact.email,
            "segment": invitee.segment,
            "locale": (contact.locale or "en")[:16],
            "contact": json_safe(minimised(contact.fields, self.kept)),
            "not_before": not_before,
            "held": held,
            "variant": one_variant(self.survey, contact.key),
        }, INVITED

    def _cooling(self, email: str, due: datetime) -> bool:
        """Whether another invitation of the survey to `email` is due or went out within
        the cooldown of `due` (the store's gate sees only those that went out)."""
        cooldown = self.survey.cooldown
        if cooldown is None:
            return False
        return any(
            cooldown.before(max(due, other)) < min(due, other)
            for other in self.invitations.get(email, ())
        )

    def _day(self, moment: datetime) -> str:
        return moment.astimezone(ZoneInfo(self.survey.timezone)).date().isoformat()

    def next_batch(self, session: Session, wave_id: str) -> int:
        """The ledger batch of the wave's next row (counted once per wave per pass)."""
        if wave_id not in self.rows:
            self.rows[wave_id] = (
                session.scalar(
                    select(func.count())
                    .select_from(Send)
                    .where(
                        Send.survey_id == self.survey.id, Send.wave_id == wave_id, Send.step == 0
                    )
                )
                or 0
            )
        return self.rows[wave_id] // self.settings.batch_size


def _invitations(store: Store, survey: Survey, now: datetime) -> dict[str, list[datetime]]:
    """Per email, the survey's invitations pending or gone out within its cooldown of now
    (none without a cooldown)."""
    if survey.cooldown is None:
        return {}
    at = func.coalesce(Send.sent_at, Send.not_before, Send.claimed_at, Send.created_at)
    query = select(Send.email, at).where(
        Send.survey_id == survey.id,
        Send.step == 0,
        Send.status.in_(("pending", *MAYBE_SENT)),
        at >= survey.cooldown.before(now),
    )
    found: dict[str, list[datetime]] = {}
    with store.session() as session:
        for email, moment in session.execute(query):
            found.setdefault(email, []).append(_aware(moment))
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _one_by_one(survey: Survey) -> Survey:
    """The survey as one event's audience: each event is a whole audience, never sampled."""
    audience = survey.audience.model_copy(update={"sample": None, "quota": None})
    return survey.model_copy(update={"audience": audience})


def _why_not(tally: Tally) -> str:
    if tally.bad_rows:
        return f"unusable: {tally.bad_rows[0].reason}"[:255]
    if tally.filtered_out:
        return "filtered out"
    for reason in tally.excluded:
        return f"excluded: {reason}"[:255]
    return "not invited"


def _write(
    batch: MomentsBatch,
    event: dict[str, Any],
    dedupe: str,
    row: dict[str, Any] | None,
    outcome: str,
) -> str | None:
    """The processed mark, and for an invitation the dedupe row and the ledger row, in one
    transaction: all or nothing, and nothing when another run got there first."""
    survey, now = batch.survey, batch.now
    with batch.store.session(write=True) as session:
        # Core tables and RETURNING: a conflict gives no row (ORM inserts' rowcount is no
        # guide on every driver).
        processed, deduped, sends = (
            TriggerProcessed.__table__,
            TriggerDedupe.__table__,
            Send.__table__,
        )
        marked = session.execute(
            session_insert(session, processed)
            .values(
                survey_id=survey.id,
                event_id=event["row"],
                outcome=outcome[:255],
                processed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["survey_id", "event_id"])
            .returning(processed.c.id)
        ).first()
        if marked is None:
            return None  # another run looked at it first
        if row is None:
            return outcome
        send_id = send_ids(1)[0]
        taken = session.execute(
            session_insert(session, deduped)
            .values(
                survey_id=survey.id,
                dedupe=dedupe[:255],
                event_id=event["id"],
                send_id=send_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["survey_id", "dedupe"])
            .returning(deduped.c.id)
        ).first()
        if taken is None:
            return _mark(session, survey, event, DUPLICATE)
        wave_id = row["wave_id"]
        added = session.execute(
            session_insert(session, sends)
            .values(
                send_id=send_id,
                survey_id=survey.id,
                wave_id=wave_id,
                step=0,
                contact_key=row["contact_key"],
                email=row["email"],
                segment=row["segment"],
                locale=row["locale"],
                contact=row["contact"],
                status="pending",
                batch=batch.next_batch(session, wave_id),
                created_at=now,
                not_before=row["not_before"],
                held=row["held"],
                variant=row["variant"],
            )
            .on_conflict_do_nothing(index_elements=["survey_id", "wave_id", "contact_key", "step"])
            .returning(sends.c.id)
        ).first()
        if added is None:
            # The person already has an invitation due that day (another event of theirs).
            session.execute(
                delete(TriggerDedupe).where(
                    TriggerDedupe.survey_id == survey.id, TriggerDedupe.dedupe == dedupe[:255]
                )
            )
            return _mark(session, survey, event, "excluded: already invited that day")
    batch.rows[wave_id] += 1
    return INVITED


def _mark(session: Session, survey: Survey, event: dict[str, Any], outcome: str) -> str:
    session.execute(
        update(TriggerProcessed)
        .where(
            TriggerProcessed.survey_id == survey.id,
            TriggerProcessed.event_id == event["row"],
        )
        .values(outcome=outcome)
    )
    return outcome
