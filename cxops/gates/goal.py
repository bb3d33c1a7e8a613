"""An interview study's goal as a gate (`cxops.interviews`): enough places held, nobody more.

- PLAN: once the people holding a place (accepted, booked or completed) reach
  `interview.goal`, nobody more is planned (each skipped as "interview goal reached").
- CLAIM: before each batch, the store is asked again (people accept while a wave sends):
  a reached goal skips every segment's due rows ("interview goal reached", the ledger's
  error that `cxops.interviews.service.goal_skipped` counts).
- REMIND: a reached goal skips the reminder ("goal reached", as reminder rounds report).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cxops.gates.base import SEND, Candidate, Decision, Moment, Skip
from cxops.interviews.service import GOAL_REACHED, holding_places
from cxops.spec.models import Survey
from cxops.store.db import Store

#: A reminder round's reason (README: `remind --json`'s `skipped`).
REMINDER_GOAL_REACHED = "goal reached"
NOTE = "interview goal reached: nobody more is invited"


class GoalGate:
    """The goal of one interview study, for one wave and step."""

    name = "interview goal"

    def __init__(self, store: Store | None, survey: Survey, holding: int):
        if survey.interview is None:
            raise ValueError(f"survey {survey.id!r} has no interview goal")
        self.store = store
        self.survey = survey
        self.goal = survey.interview.goal
        #: Places held when the gate was built (what planning compares to the goal).
        self.reached = holding >= self.goal

    @classmethod
    def of(cls, store: Store | None, survey: Survey) -> GoalGate:
        """The gate with the places held now (none without a store)."""
        return cls(store, survey, holding_places(store, survey) if store is not None else 0)

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        if not self.reached or moment is Moment.CLAIM:
            return SEND  # at claim time the segments were asked first
        return Skip(REMINDER_GOAL_REACHED if moment is Moment.REMIND else GOAL_REACHED)

    def for_segment(self, segment: str, now: datetime) -> Decision:
        return Skip(GOAL_REACHED) if self._reached_at(now) else SEND

    def _reached_at(self, now: datetime) -> bool:
        """Whether the goal is reached now (the store is asked again: people accept while a
        wave sends; interview studies are small)."""
        if self.reached or self.store is None:
            return self.reached
        return holding_places(self.store, self.survey) >= self.goal

    def notes(self) -> list[str]:
        return [NOTE] if self.reached else []

    def held_rows(self) -> list[dict[str, Any]]:
        return []  # everyone alike: the note says it
