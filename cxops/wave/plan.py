"""Who a wave invites: the audience pipeline run over a survey, with the store's history.

`plan_only` is read-only (it is `cxops plan` and the preview's choice of contacts); the
wave flow feeds the same invitees into the ledger (`cxops.wave.prepare`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cxops.audience import Invitee, NoHistory, Tally, read_source, select_audience
from cxops.audience.eligibility import History
from cxops.expr import Evaluator
from cxops.gates.cooldown import CooldownGate, with_cooldown
from cxops.policy.history import policy_history
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
    goal_reached: bool = False

    def summary(self) -> WaveSummary:
        summary = summary_from_tally(self.wave.survey_id, self.wave.wave_id, self.tally)
        if self.goal_reached:
            summary = summary.noted("interview goal reached: nobody more is invited")
        return summary


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


def plan_wave(wave: WaveContext, *, history: History | None = None, accepted: int = 0) -> WavePlan:
    """Select the wave's invitees (lazily): read the source, filter, segment, exclude, sample."""
    survey, settings = wave.survey, wave.settings
    tally = Tally()
    if survey.interview is not None and accepted >= survey.interview.goal:
        tally.history_available = True  # the store answered: the goal is reached
        return WavePlan(wave, tally, iter(()), goal_reached=True)
    selected = effective_survey(survey)
    rows = read_source(selected.audience.source, settings.project_dir)
    invitees = select_audience(
        selected,
        rows,
        evaluator=Evaluator(wave.now, settings.holidays),
        history=history or NoHistory(),
        tally=tally,
    )
    return WavePlan(wave, tally, invitees)


def accepted_interviews(store: Store, survey: Survey) -> int:
    """How many people hold a place towards the interview goal (accepted, booked or
    completed; a no-show or cancellation freed theirs)."""
    from cxops.interviews.service import holding_places

    return holding_places(store, survey)


def history_and_accepted(store: Store, wave: WaveContext) -> tuple[History, int]:
    """Who the store and the contact policy hold back for this wave, and interviews
    accepted so far."""
    survey = wave.survey
    history = load_history(
        store,
        survey_id=survey.id,
        wave_id=wave.wave_id,
        now=wave.now,
        surveyed_within=survey.audience.exclude.surveyed_within,
        cap=None,  # the contact policy counts the cap, invitations and reminders alike
        erasure_key=wave.settings.signing_key,
    )
    held = policy_history(store, history, survey, wave.settings, wave_id=wave.wave_id, now=wave.now)
    # Until the gate registry asks every gate at planning, the survey's cooldown is asked here.
    cooldown = CooldownGate.for_wave(store, survey, wave.wave_id, wave.now)
    held = with_cooldown(held, cooldown, wave.now)
    accepted = accepted_interviews(store, survey) if survey.interview else 0
    return held, accepted


def plan_only(wave: WaveContext) -> WavePlan:
    """`cxops plan`: the wave plan with history from the store when there is one. Read-only."""
    url = wave.settings.store_url
    if not store_exists(url):
        # No store: nobody was contacted yet, but `never` rules still hold people back.
        settings = wave.settings
        held = policy_history(None, None, wave.survey, settings, wave_id=wave.wave_id, now=wave.now)
        return plan_wave(wave, history=held)
    store = open_store(url, upgrade=False)
    try:
        history, accepted = history_and_accepted(store, wave)
    finally:
        store.dispose()
    return plan_wave(wave, history=history, accepted=accepted)


def json_safe(fields: dict[str, Any]) -> dict[str, Any]:
    """Contact fields as JSON values (dates and datetimes as ISO text)."""
    safe: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, datetime | date):
            safe[name] = value.isoformat()
        else:
            safe[name] = value
    return safe
