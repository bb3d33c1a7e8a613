"""`cxops send-due`: every due ledger row of every survey, through the wave's own claims.

A ledger row may wait (`sends.not_before`: a reminder's `after`, a send window, a quota
round, a gate's hold). `send_due` finds each (survey, wave, step) with rows due now and
sends them with the same batch loop as a wave (`send_step`, the flow's claims and batch
task), so "never twice" holds as it does for waves: a row is claimed once; a dead run's
claims become in doubt first and are not resent. Before a reminder step is claimed, its
rows of people who answered or whose invitation expired meanwhile are skipped (a
suppressed address is skipped by the claim). Rows of a survey no longer in the project
are left where they are and named. Prefect-free: the flow (`cxops.wave.flow`) passes
`send_step`; a dry run (`send_step` None) says what is due and writes nothing. A real
run first turns stored events into rows of the triggered surveys (`cxops.wave.moments`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.ledger import due_groups, waiting_figures, waiting_rows, wave_counts
from cxops.store.waves import get_wave
from cxops.wave import status
from cxops.wave.ids import WaveContext
from cxops.wave.moments import plan_moments
from cxops.wave.remind import skip_stale
from cxops.wave.send import start_sending
from cxops.wave.summary import WaveSummary, with_counts

#: The batch loop of one step (the flow's Prefect tasks, or a plain loop in tests): how
#: many messages its own claims sent.
SendStep = Callable[[WaveContext], int]


@dataclass(frozen=True)
class DueStep:
    """One step of one wave that had rows due (ledger figures are the step's totals after)."""

    survey: str
    wave: str
    step: int
    #: Rows due when the run looked.
    due: int
    #: Sent by this run's own claims.
    sent_now: int = 0
    #: Skipped before claiming: answered or expired meanwhile.
    stale: int = 0
    sent: int = 0
    in_doubt: int = 0
    failed: int = 0
    #: Pending after the run (due rows another run holds, or rows waiting for later).
    pending: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "survey": self.survey,
            "wave": self.wave,
            "step": self.step,
            "due": self.due,
            "sent_now": self.sent_now,
            "stale": self.stale,
            "sent": self.sent,
            "in_doubt": self.in_doubt,
            "failed": self.failed,
            "pending": self.pending,
        }


@dataclass(frozen=True)
class DueSummary:
    """What `cxops send-due` prints (`--json`: `as_dict`) and the flow publishes."""

    now: datetime
    dry_run: bool
    steps: list[DueStep] = field(default_factory=list)
    #: Due rows of surveys no longer in the project: {survey, wave, step, due}, left pending.
    left: list[dict[str, Any]] = field(default_factory=list)
    #: Rows still waiting after the run: {count, earliest, latest} (ISO, UTC).
    waiting: dict[str, Any] = field(
        default_factory=lambda: {"count": 0, "earliest": None, "latest": None}
    )
    notes: tuple[str, ...] = ()

    @property
    def due(self) -> int:
        return sum(step.due for step in self.steps)

    @property
    def sent_now(self) -> int:
        return sum(step.sent_now for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "due": self.due,
            "sent": self.sent_now,
            "in_doubt": sum(step.in_doubt for step in self.steps),
            "failed": sum(step.failed for step in self.steps),
            "steps": [step.as_dict() for step in self.steps],
            "left": list(self.left),
            "waiting": dict(self.waiting),
            "notes": list(self.notes),
        }


def send_due(
    store: Store,
    settings: Settings,
    surveys: Mapping[str, Survey],
    send_step: SendStep | None,
    *,
    on_step: Callable[[WaveContext | None], None] = lambda wave: None,
) -> DueSummary:
    """Send every due row of every survey in `surveys` (`send_step` None: a dry run).

    `on_step` is told the step being sent (None once done), so a stop can name it."""
    now = settings.clock()
    dry_run = send_step is None
    steps: list[DueStep] = []
    left: list[dict[str, Any]] = []
    paused: list[str] = []
    if not dry_run:
        # Stored events first: the every-minute loop turns them into due rows, then sends.
        plan_moments(store, settings, surveys, now)
    for group in due_groups(store, now):
        survey = surveys.get(group.survey_id)
        row = get_wave(store, group.survey_id, group.wave_id)
        if row is not None and row.paused_at is not None:
            # The deliverability breaker paused it: nothing is claimed until a person
            # resumes it (`cxops run SURVEY --wave W --resume`).
            paused.append(
                f"{group.due} due rows of wave {group.wave_id} of {group.survey_id} wait: the "
                f"deliverability breaker paused it; `cxops run {group.survey_id} --wave "
                f"{group.wave_id} --resume` goes on"
            )
            continue
        if survey is None:
            left.append(
                {
                    "survey": group.survey_id,
                    "wave": group.wave_id,
                    "step": group.step,
                    "due": group.due,
                }
            )
            continue
        wave = WaveContext(survey, settings, group.wave_id, now, group.step)
        if send_step is None:
            steps.append(DueStep(survey.id, group.wave_id, group.step, group.due))
            continue
        on_step(wave)
        start_sending(store, wave, resend_in_doubt_too=False)
        stale = skip_stale(store, wave, now)
        sent_now = send_step(wave)
        counts = wave_counts(store, survey.id, group.wave_id, group.step)
        if group.step == 0:
            _complete_if_done(store, wave, counts)
        steps.append(
            DueStep(
                survey.id,
                group.wave_id,
                group.step,
                group.due,
                sent_now=sent_now,
                stale=stale,
                sent=counts["sent"],
                in_doubt=counts["in_doubt"],
                failed=counts["failed"],
                pending=counts["pending"],
            )
        )
    on_step(None)
    notes = tuple(
        f"{row['due']} due rows of survey {row['survey']!r} (wave {row['wave']}, step "
        f"{row['step']}) left pending: the survey is no longer in the project"
        for row in left
    ) + tuple(paused)
    waiting = waiting_figures(waiting_rows(store, now))
    return DueSummary(now, dry_run, steps, left, waiting, notes)


def _complete_if_done(store: Store, wave: WaveContext, counts: Mapping[str, Any]) -> None:
    """A planned wave whose last invitations this run sent is complete (as after `run`)."""
    row = get_wave(store, wave.survey_id, wave.wave_id)
    if row is None or row.status != "planned":
        return  # still being planned by a run of its own, or already complete or closed
    counted = with_counts(WaveSummary(wave.survey_id, wave.wave_id), counts, {})
    status.finish_if_done(store, wave, counted)


def due_markdown(summary: DueSummary) -> str:
    """The run as a Prefect artifact."""
    data = summary.as_dict()
    waiting = data["waiting"]
    lines = [
        f"# Due sends at {data['now']}",
        "",
        f"due {data['due']} · sent {data['sent']} · in doubt {data['in_doubt']} · "
        f"failed {data['failed']} · waiting {waiting['count']}"
        + (f" (until {waiting['latest']})" if waiting["latest"] else ""),
        "",
        "| survey | wave | step | due | sent now | skipped (stale) | pending after |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in summary.steps:
        lines.append(
            f"| {step.survey} | {step.wave} | {step.step} | {step.due} | {step.sent_now} | "
            f"{step.stale} | {step.pending} |"
        )
    lines += ["", *(f"note: {note}" for note in summary.notes)]
    return "\n".join(lines).rstrip("\n") + "\n"
