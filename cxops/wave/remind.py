"""Reminder rounds: who is due reminder k of a wave, planned into the same ledger.

Reminder k (1 ≤ k ≤ `invitation.reminder.max`) of a wave is step k of it: a ledger row
per person committed `pending` before anything is sent, then claimed and sent by the
wave's own batch sender, so it has the invitation's guarantees (never twice, a crash
leaves at most the batch in flight in doubt, `--resend-in-doubt` to send those again).
A person is due when their invitation went out, `after` has passed since the previous
message, no person confirmed an answer (a provisional one-click score is not one), the
address is not suppressed, the invitation has not expired, and the contact policy lets
the message through. `decide` is the pure rule; `plan_step` applies it to the ledger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxops.durations import Duration
from cxops.gates.base import Candidate, Gates, Hold, Moment, Skip
from cxops.spec.models import Reminder, Survey
from cxops.store.db import Store
from cxops.store.reminders import ReminderCandidate, reminder_candidates, skip_answered_pending
from cxops.wave.ids import WaveContext

#: The decision for someone who will be due later (the previous message is too recent).
WAITING = "waiting"
#: The decision for someone due now.
DUE = "due"


def decide(
    candidate: ReminderCandidate,
    reminder: Reminder,
    expires_after: Duration,
    now: datetime,
    holidays: str | None = None,
) -> str:
    """DUE, WAITING, or the reason the person gets no reminder at this step."""
    if candidate.answered:
        return "answered"
    if candidate.suppressed:
        return candidate.suppressed
    if expires_after.after(candidate.invited_at, holidays) <= now:
        return "expired"
    if candidate.previous_at is None:
        return WAITING  # the previous reminder has not gone out (yet)
    if reminder.after.after(candidate.previous_at, holidays) > now:
        return WAITING
    return DUE


@dataclass
class StepPlan:
    """What planning one reminder step of one wave found."""

    step: int
    #: Newly due this round (each now a `pending` row of the step).
    due: int = 0
    #: Will be due later: the previous message is more recent than `after`.
    waiting: int = 0
    #: Reason -> people who get no reminder at this step (answered, expired, unsubscribed …).
    skipped: Counter[str] = field(default_factory=Counter)
    #: Reason -> due people a gate made wait (planned with `not_before`; in `due` too).
    held: Counter[str] = field(default_factory=Counter)
    #: The due people's ledger rows (not kept in the summary).
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)


def plan_step(store: Store, wave: WaveContext, gates: Gates) -> StepPlan:
    """Who is due reminder `wave.step` of the wave now; writes nothing (the due people's
    ledger rows are `plan.rows`, for the caller to write). The wave's gates are asked about
    each due person (`Moment.REMIND`): a skip is counted by its reason, a hold plans the
    row to wait (`not_before`, `held`)."""
    survey = wave.survey
    reminder = _reminder(survey)
    plan = StepPlan(wave.step)
    expires_after = survey.invitation.expires_after
    holidays = wave.settings.holidays
    for candidate in reminder_candidates(store, survey.id, wave.wave_id, wave.step):
        decision = decide(candidate, reminder, expires_after, wave.now, holidays)
        hold: Hold | None = None
        if decision == DUE and gates.gates:
            asked = gates.for_contact(_candidate(candidate, wave.step), Moment.REMIND, wave.now)
            if isinstance(asked, Skip):
                decision = asked.reason
            elif isinstance(asked, Hold) and asked.until > wave.now:
                hold = asked
        if decision == DUE:
            plan.due += 1
            row = _ledger_row(candidate)
            if hold is not None:
                row["not_before"], row["held"] = hold.until, hold.reason[:64]
                plan.held[hold.reason] += 1
            plan.rows.append(row)
        elif decision == WAITING:
            plan.waiting += 1
        else:
            plan.skipped[decision] += 1
    return plan


def skip_answered(store: Store, wave: WaveContext) -> int:
    """Before sending a step: its pending rows of people who answered meanwhile are skipped."""
    return skip_answered_pending(store, wave.survey_id, wave.wave_id, wave.step)


def reminder_steps(survey: Survey) -> Iterator[int]:
    """1 … `invitation.reminder.max` (nothing without a reminder)."""
    reminder = survey.invitation.reminder
    if reminder is not None:
        yield from range(1, reminder.max + 1)


def _reminder(survey: Survey) -> Reminder:
    reminder = survey.invitation.reminder
    if reminder is None:
        raise ValueError(f"survey {survey.id!r} has no invitation.reminder")
    return reminder


def _candidate(candidate: ReminderCandidate, step: int) -> Candidate:
    return Candidate(
        candidate.contact_key, candidate.email, candidate.segment, step, candidate.contact
    )


def _ledger_row(candidate: ReminderCandidate) -> dict[str, Any]:
    return {
        "contact_key": candidate.contact_key,
        "email": candidate.email,
        "segment": candidate.segment,
        "locale": candidate.locale,
        "contact": candidate.contact,
    }
