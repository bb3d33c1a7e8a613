"""Who a wave invites: the audience pipeline run over a survey, and the wave summary.

`plan_wave` is read-only (it is `cxops plan`); the wave flow feeds the same
invitees into the ledger (`cxops.sending.prepare_wave`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cxops.audience import Invitee, NoHistory, Tally, read_source, select_audience
from cxops.audience.eligibility import History
from cxops.expr import Evaluator
from cxops.settings import Settings
from cxops.spec.models import Sample, Survey
from cxops.waves import wave_id_for

#: How many bad rows the terminal shows; --json lists them all.
BAD_ROWS_ON_SCREEN = 20


@dataclass
class WaveSummary:
    """DESIGN.md's wave summary: the same shape for `plan --json` and `run --json`."""

    survey: str
    wave: str
    audience: int = 0
    filtered_out: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    eligible: int = 0
    sampled: int = 0
    sent: int = 0
    in_doubt: int = 0
    failed: int = 0
    by_segment: dict[str, dict[str, int]] = field(default_factory=dict)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "survey": self.survey,
            "wave": self.wave,
            "audience": self.audience,
            "filtered_out": self.filtered_out,
            "excluded": dict(self.excluded),
            "eligible": self.eligible,
            "sampled": self.sampled,
            "sent": self.sent,
            "in_doubt": self.in_doubt,
            "failed": self.failed,
            "by_segment": {name: dict(counts) for name, counts in self.by_segment.items()},
            "bad_rows": list(self.bad_rows),
            "notes": list(self.notes),
        }
        data.update(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WaveSummary:
        known = {name for name in cls.__dataclass_fields__ if name != "extra"}
        summary = cls(**{key: value for key, value in data.items() if key in known})
        summary.extra = {key: value for key, value in data.items() if key not in known}
        return summary


def summary_from_tally(survey_id: str, wave_id: str, tally: Tally) -> WaveSummary:
    summary = WaveSummary(
        survey=survey_id,
        wave=wave_id,
        audience=tally.audience,
        filtered_out=tally.filtered_out,
        excluded={reason: count for reason, count in tally.excluded.items() if count},
        eligible=tally.eligible,
        sampled=tally.sampled,
        by_segment={name: dict(counts) for name, counts in tally.by_segment.items()},
        bad_rows=[row.as_dict() for row in tally.bad_rows],
        notes=list(tally.notes),
    )
    if not tally.history_available:
        summary.notes.append(
            "no store yet: nobody is excluded for earlier invitations or unsubscribes"
        )
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
    adjusted = survey.model_copy(update={"audience": audience})
    adjusted._source_path = survey.source_path
    return adjusted


@dataclass
class WavePlan:
    """The selection for one wave, streamed: iterate `invitees`, then read `summary()`."""

    survey: Survey
    wave_id: str
    now: datetime
    tally: Tally
    invitees: Iterator[Invitee]
    goal_reached: bool = False

    def summary(self) -> WaveSummary:
        summary = summary_from_tally(self.survey.id, self.wave_id, self.tally)
        if self.goal_reached:
            summary.notes.append("interview goal reached: nobody more is invited")
        return summary


def plan_wave(
    survey: Survey,
    settings: Settings,
    *,
    history: History | None = None,
    wave: str | None = None,
    accepted: int = 0,
) -> WavePlan:
    """Select the wave's invitees (lazily): read the source, filter, segment, exclude, sample."""
    now = settings.clock()
    wave_id = wave_id_for(survey.schedule, now, wave)
    tally = Tally()
    goal_reached = survey.interview is not None and accepted >= survey.interview.goal
    if goal_reached:
        return WavePlan(survey, wave_id, now, tally, iter(()), goal_reached=True)
    selected = effective_survey(survey)
    rows = read_source(selected.audience.source, settings.project_dir)
    invitees = select_audience(
        selected,
        rows,
        evaluator=Evaluator(now, settings.holidays),
        history=history or NoHistory(),
        tally=tally,
    )
    return WavePlan(survey, wave_id, now, tally, invitees)


def json_safe(fields: dict[str, Any]) -> dict[str, Any]:
    """Contact fields as JSON values (dates and datetimes as ISO text)."""
    safe: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, datetime | date):
            safe[name] = value.isoformat()
        else:
            safe[name] = value
    return safe
