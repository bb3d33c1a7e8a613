"""Stored events become invitations of the triggered surveys that answer to their type.

For each survey with `trigger:`, each stored event of its type it has not looked at yet
(`trigger_processed`; an event posted with a key limited to another survey is never
its) is mapped to a contact (`cxops.audience.events`), run through the
audience pipeline like a source row (filter, segments, the store's history: erased,
unsubscribed, bounced, `surveyed_within`), and the survey's gates are asked at PLAN
(cooldown, the contact policy, the send window: a hold makes the row wait). An event
that passes becomes one `pending` ledger row, due at the event's due time (or the
gate's hold, if later), in the wave named by the day it is due in the survey's time
zone; `cxops send-due` sends it when that time comes.

One invitation per (survey, dedupe value), ever: the `trigger_dedupe` row, the ledger
row and the `trigger_processed` mark are written in one transaction, so a crash leaves
either all of them or none, and a second run (or a concurrent one) finds the event
processed or the value taken and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from cxops.audience import Tally, select_audience
from cxops.audience.events import EventError, event_contact
from cxops.expr import Evaluator
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.holds import reason_text
from cxops.store.ledger import send_ids
from cxops.store.models import InboundEvent, Send, TriggerDedupe, TriggerProcessed
from cxops.store.sql import session_insert
from cxops.wave.ids import WaveContext
from cxops.wave.minimise import kept_columns, minimised
from cxops.wave.plan import GatesAtPlanning, history_and_gates, json_safe

INVITED = "invited"
DUPLICATE = "duplicate"


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
        for event in _unprocessed(store, survey):
            outcome = _plan_event(store, settings, survey, event, now)
            if outcome is not None:
                summary.count(survey.id, outcome)
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


def _plan_event(
    store: Store, settings: Settings, survey: Survey, event: dict[str, Any], now: datetime
) -> str | None:
    """Write what `event` gives `survey` (a ledger row, or only why not); the outcome,
    or None when another run had already looked at it."""
    evaluator = Evaluator(now, settings.holidays)
    row: dict[str, Any] | None = None
    dedupe = ""
    try:
        triggered = event_contact(survey, event, evaluator)
    except EventError as exc:
        outcome = f"unusable: {exc}"
    else:
        dedupe = triggered.dedupe
        wave_id = triggered.due_at.astimezone(ZoneInfo(survey.timezone)).date().isoformat()
        asked_at = max(now, triggered.due_at)
        wave = WaveContext(survey, settings, wave_id, asked_at, 0)
        history, gates = history_and_gates(store, wave)
        tally = Tally()
        invitees = list(
            select_audience(
                _one_by_one(survey),
                [triggered.contact],
                evaluator=Evaluator(asked_at, settings.holidays),
                history=history,
                tally=tally,
                gate=GatesAtPlanning(gates, asked_at) if gates.gates else None,
            )
        )
        if invitees:
            invitee = invitees[0]
            contact = invitee.contact
            not_before = triggered.due_at
            held = None
            if invitee.waits is not None and invitee.waits.until > not_before:
                not_before, held = invitee.waits.until, reason_text(invitee.waits.reason)
            row = {
                "wave_id": wave_id,
                "contact_key": contact.key,
                "email": contact.email,
                "segment": invitee.segment,
                "locale": (contact.locale or "en")[:16],
                "contact": json_safe(minimised(contact.fields, kept_columns(survey, settings))),
                "not_before": not_before,
                "held": held,
            }
            outcome = INVITED
        else:
            outcome = _why_not(tally)
    return _write(store, settings, survey, event, dedupe, row, outcome, now)


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
    store: Store,
    settings: Settings,
    survey: Survey,
    event: dict[str, Any],
    dedupe: str,
    row: dict[str, Any] | None,
    outcome: str,
    now: datetime,
) -> str | None:
    """The processed mark, and for an invitation the dedupe row and the ledger row, in one
    transaction: all or nothing, and nothing when another run got there first."""
    with store.session(write=True) as session:
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
        rows = session.scalar(
            select(func.count())
            .select_from(Send)
            .where(Send.survey_id == survey.id, Send.wave_id == wave_id, Send.step == 0)
        )
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
                batch=(rows or 0) // settings.batch_size,
                created_at=now,
                not_before=row["not_before"],
                held=row["held"],
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
