"""Reminder rounds: who is due reminder k of a wave, planned into the same ledger.

Reminder k (1 ≤ k ≤ `invitation.reminder.max`) of a wave is step k of it: a ledger row
per person committed `pending` before anything is sent, then claimed and sent by the
wave's own batch sender, so it has the invitation's guarantees (never twice, a crash
leaves at most the batch in flight in doubt, `--resend-in-doubt` to send those again).
A person is due when their invitation went out, `after` has passed since the previous
message, no person confirmed an answer (a provisional one-click score is not one), the
address is not suppressed, the invitation has not expired, and the contact policy lets
the message through. `decide` is the pure rule; `plan_step` applies it to the ledger.

A reminder is a due row: someone whose previous message went out less than `after` ago
is planned at once, with `not_before` = `after` after that message, and `cxops
send-due` (or the next round) sends it then. Before a step is claimed, its rows of
people who answered or whose invitation expired meanwhile are skipped (`skip_stale`);
a suppressed address is skipped by the claim itself.
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
from cxops.store.ledger import pending_split
from cxops.store.reminders import (
    ReminderCandidate,
    reminder_candidates,
    skip_answered_pending,
    skip_expired_pending,
)
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
    #: Due now: newly planned, or planned earlier to wait and come due since.
    due: int = 0
    #: Will be due later: planned with a later `not_before`, or their previous reminder
    #: has not gone out yet.
    waiting: int = 0
    #: Reason -> people who get no reminder at this step (answered, expired, unsubscribed …).
    skipped: Counter[str] = field(default_factory=Counter)
    #: Reason -> due people a gate made wait (planned with `not_before`; in `due` too).
    held: Counter[str] = field(default_factory=Counter)
    #: The due people's ledger rows (not kept in the summary).
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)


def plan_step(store: Store, wave: WaveContext, gates: Gates) -> StepPlan:
    """Who is due reminder `wave.step` of the wave now, and who will be; writes nothing.

    The new ledger rows are `plan.rows`, for the caller to write: the due first, then
    the waiting (a previous message that went out less than `after` ago) with their
    `not_before`, soonest first. The step's rows already pending count as due or
    waiting by their own `not_before`. The wave's gates are asked about each due or
    waiting person (`Moment.REMIND`, and again when the row is claimed): a skip is
    counted by its reason, a hold makes the row wait (`not_before`, `held`)."""
    survey = wave.survey
    reminders = _reminders(survey)
    plan = StepPlan(wave.step)
    plan.due, plan.waiting = pending_split(store, survey.id, wave.wave_id, wave.step, wave.now)
    expires_after = survey.invitation.expires_after
    holidays = wave.settings.holidays
    later: list[dict[str, Any]] = []
    for candidate in reminder_candidates(store, survey.id, wave.wave_id, wave.step):
        # A variant may change the reminder's `after`; the person keeps their variant.
        reminder = reminders.get(candidate.variant) or reminders[None]
        decision = decide(candidate, reminder, expires_after, wave.now, holidays)
        comes_due = decision == WAITING and candidate.previous_at is not None
        hold: Hold | None = None
        if (decision == DUE or comes_due) and gates.gates:
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
            if candidate.previous_at is not None:
                row = _ledger_row(candidate)
                row["not_before"] = reminder.after.after(candidate.previous_at, holidays)
                if hold is not None and hold.until > row["not_before"]:
                    row["not_before"], row["held"] = hold.until, hold.reason[:64]
                later.append(row)
        else:
            plan.skipped[decision] += 1
    later.sort(key=lambda row: row["not_before"])
    plan.rows += later
    return plan


def skip_answered(store: Store, wave: WaveContext) -> int:
    """Before sending a step: its pending rows of people who answered meanwhile are skipped."""
    return skip_answered_pending(store, wave.survey_id, wave.wave_id, wave.step)


def skip_stale(store: Store, wave: WaveContext, now: datetime) -> int:
    """Before claiming a step's due rows: those of people who answered meanwhile, or
    whose invitation expired meanwhile, are skipped (`answered`, `expired`); how many."""
    if wave.step < 1:
        return 0
    expires_after = wave.survey.invitation.expires_after
    holidays = wave.settings.holidays
    return skip_answered(store, wave) + skip_expired_pending(
        store,
        wave.survey_id,
        wave.wave_id,
        wave.step,
        now,
        lambda invited_at: expires_after.after(invited_at, holidays),
    )


def reminder_steps(survey: Survey) -> Iterator[int]:
    """1 … `invitation.reminder.max` (nothing without a reminder)."""
    reminder = survey.invitation.reminder
    if reminder is not None:
        yield from range(1, reminder.max + 1)


def _reminders(survey: Survey) -> dict[str | None, Reminder]:
    """The reminder of each variant (None: of a person without one)."""
    reminder = survey.invitation.reminder
    if reminder is None:
        raise ValueError(f"survey {survey.id!r} has no invitation.reminder")
    found: dict[str | None, Reminder] = {None: reminder}
    for variant in survey.invitation.variants:
        own = survey.invitation.for_variant(variant.id).reminder
        found[variant.id] = own if own is not None else reminder
    return found


def _candidate(candidate: ReminderCandidate, step: int) -> Candidate:
    return Candidate(
        candidate.contact_key,
        candidate.email,
        candidate.segment,
        step,
        candidate.contact,
        candidate.variant,
    )


def _ledger_row(candidate: ReminderCandidate) -> dict[str, Any]:
    return {
        "contact_key": candidate.contact_key,
        "email": candidate.email,
        "segment": candidate.segment,
        "locale": candidate.locale,
        "contact": candidate.contact,
        "variant": candidate.variant,
    }
