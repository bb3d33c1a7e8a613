"""Who a wave invites: the audience pipeline run over a survey, with the store's history.

`plan_only` is read-only (it is `cxops plan` and the preview's choice of contacts); the
wave flow feeds the same invitees into the ledger (`cxops.wave.prepare`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from cxops.audience import (
    Contact,
    Invitee,
    NoHistory,
    Tally,
    Waits,
    read_source,
    select_audience,
)
from cxops.audience.eligibility import History
from cxops.expr import Evaluator
from cxops.gates.base import Candidate, Gates, Hold, Moment, Skip
from cxops.gates.registry import bad_timezones, gate_held_rows, gate_notes, gates_for
from cxops.spec.models import Sample, Survey
from cxops.store.db import Store, open_store, store_exists
from cxops.store.history import load_history
from cxops.wave.ids import WaveContext
from cxops.wave.summary import WaveSummary, summary_from_tally


@dataclass
class WavePlan:
    """The selection for one wave, streamed: iterate `invitees`, then read `summary()`."""

    wave: WaveContext
    tally: Tally
    invitees: Iterator[Invitee]
    gates: Gates = field(default_factory=Gates)

    def summary(self) -> WaveSummary:
        summary = summary_from_tally(self.wave.survey_id, self.wave.wave_id, self.tally)
        return replace(summary, bad_timezone=bad_timezones(self.gates))


class GatesAtPlanning:
    """The wave's gates asked at PLAN, as the audience selection asks (`PlanGate`)."""

    def __init__(self, gates: Gates, now: datetime):
        self.gates = gates
        self.now = now

    def decide(self, contact: Contact, segment: str) -> str | Waits | None:
        candidate = Candidate(contact.key, contact.email, segment, 0, contact.fields)
        decision = self.gates.for_contact(candidate, Moment.PLAN, self.now)
        if isinstance(decision, Skip):
            return decision.reason
        if isinstance(decision, Hold):
            return Waits(decision.until, decision.reason)
        return None


def effective_survey(survey: Survey) -> Survey:
    """Interview surveys invite `interview.batch` people per wave (until the goal is met)."""
    if survey.interview is None:
        return survey
    current = survey.audience.sample
    sample = Sample(
        size=survey.interview.batch,
        stratify=current.stratify if current else None,
        seed=current.seed if current else 0,
    )
    audience = survey.audience.model_copy(update={"sample": sample})
    return survey.model_copy(update={"audience": audience})


def plan_wave(
    wave: WaveContext, *, history: History | None = None, gates: Gates | None = None
) -> WavePlan:
    """Select the wave's invitees (lazily): read the source, filter, segment, exclude (the
    store's history, then the gates), sample."""
    survey, settings = wave.survey, wave.settings
    gates = gates if gates is not None else Gates()
    tally = Tally()
    selected = effective_survey(survey)
    rows = read_source(selected.audience.source, settings.project_dir)
    invitees = select_audience(
        selected,
        rows,
        evaluator=Evaluator(wave.now, settings.holidays),
        history=history or NoHistory(),
        tally=tally,
        gate=GatesAtPlanning(gates, wave.now) if gates.gates else None,
    )
    return WavePlan(wave, tally, _then_reported(invitees, tally, gates), gates)


def _then_reported(invitees: Iterator[Invitee], tally: Tally, gates: Gates) -> Iterator[Invitee]:
    """The invitees; once they are all out, what the gates have to say goes into `tally`."""
    yield from invitees
    tally.notes.extend(gate_notes(gates))
    tally.held = gate_held_rows(gates)


def history_and_gates(store: Store, wave: WaveContext) -> tuple[History, Gates]:
    """What the store holds against people of this wave (suppressions, `surveyed_within`),
    and the wave's gates (the contact policy, the interview goal …)."""
    survey = wave.survey
    history = load_history(
        store,
        survey_id=survey.id,
        wave_id=wave.wave_id,
        now=wave.now,
        surveyed_within=survey.audience.exclude.surveyed_within,
        cap=None,  # the contact policy (a gate) counts the cap, invitations and reminders alike
        erasure_key=wave.settings.signing_key,
    )
    return history, gates_for(store, wave)


def plan_only(wave: WaveContext) -> WavePlan:
    """`cxops plan`: the wave plan with history from the store when there is one. Read-only."""
    url = wave.settings.store_url
    if not store_exists(url):
        # No store: nobody was contacted yet, but `never` rules still hold people back.
        return plan_wave(wave, history=NoHistory(), gates=gates_for(None, wave))
    store = open_store(url, upgrade=False)
    try:
        history, gates = history_and_gates(store, wave)
    finally:
        store.dispose()
    return plan_wave(wave, history=history, gates=gates)


def json_safe(fields: dict[str, Any]) -> dict[str, Any]:
    """Contact fields as JSON values (dates and datetimes as ISO text)."""
    safe: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, datetime | date):
            safe[name] = value.isoformat()
        else:
            safe[name] = value
    return safe
