"""One reminder round of a survey: close expired waves, then each open wave's due steps.

For every open wave and each step 1 … `reminder.max`: rows of dead runs become in
doubt (or pending again with `--resend-in-doubt`), pending rows of people who answered
or whose invitation expired meanwhile are skipped, the newly due are planned into the
ledger (one locale per batch) and so are those who will be due later (rows with a
`not_before`, which `cxops send-due` or a later round sends), and the step's due rows
are sent by `send_step` (the flow's batch loop). A dry run plans and renders, and
writes nothing. Prefect-free: the flow (`cxops.wave.flow`) passes `send_step`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxops.gates.goal import REMINDER_GOAL_REACHED
from cxops.gates.registry import gates_for
from cxops.messages.render import SendView
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.ledger import wave_counts
from cxops.wave import status
from cxops.wave.dry_run import render_all
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import add_in_locale_batches
from cxops.wave.remind import StepPlan, plan_step, reminder_steps, skip_stale
from cxops.wave.send import start_sending
from cxops.wave.summary import rate_text

#: The batch loop of one step (the flow's Prefect tasks, or a plain loop in tests): how
#: many messages it sent itself, of the batches it claimed.
SendStep = Callable[[WaveContext], int]


@dataclass(frozen=True)
class StepSummary:
    """One reminder step of one wave after a round (ledger counts are the step's totals)."""

    wave: str
    step: int
    due: int
    waiting: int
    skipped: dict[str, int]
    sent: int = 0
    in_doubt: int = 0
    failed: int = 0
    pending: int = 0
    #: Sent by this round (the rest of `sent` went out in earlier rounds).
    sent_now: int = 0
    rendered: int | None = None
    #: Reason -> due people a gate made wait (planned with `not_before`).
    held: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "wave": self.wave,
            "step": self.step,
            "due": self.due,
            "waiting": self.waiting,
            "skipped": dict(sorted(self.skipped.items())),
            "sent": self.sent,
            "sent_now": self.sent_now,
            "in_doubt": self.in_doubt,
            "failed": self.failed,
            "pending": self.pending,
        }
        if self.rendered is not None:
            data["rendered"] = self.rendered
        if self.held:
            data["held"] = dict(sorted(self.held.items()))
        return data


@dataclass(frozen=True)
class ReminderSummary:
    """What `cxops remind` prints (`--json`: `as_dict`) and the flow publishes."""

    survey: str
    now: datetime
    dry_run: bool
    steps: list[StepSummary] = field(default_factory=list)
    #: Waves closed by this round: wave, closed_at, invited, answered, response_rate …
    closed: list[dict[str, Any]] = field(default_factory=list)
    notes: tuple[str, ...] = ()

    @property
    def sent_now(self) -> int:
        return sum(step.sent_now for step in self.steps)

    @property
    def in_doubt(self) -> int:
        return sum(step.in_doubt for step in self.steps)

    @property
    def due(self) -> int:
        return sum(step.due for step in self.steps)

    @property
    def failed(self) -> int:
        return sum(step.failed for step in self.steps)

    @property
    def waiting(self) -> int:
        return sum(step.waiting for step in self.steps)

    @property
    def skipped(self) -> dict[str, int]:
        """Reason -> people skipped, over every step, by reason."""
        total: dict[str, int] = {}
        for step in self.steps:
            for reason, count in step.skipped.items():
                total[reason] = total.get(reason, 0) + count
        return dict(sorted(total.items()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "survey": self.survey,
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "due": self.due,
            "sent": self.sent_now,
            "in_doubt": self.in_doubt,
            "failed": self.failed,
            "waiting": self.waiting,
            "skipped": self.skipped,
            "steps": [step.as_dict() for step in self.steps],
            "closed": list(self.closed),
            "notes": list(self.notes),
        }


def remind_survey(
    store: Store,
    survey: Survey,
    settings: Settings,
    send_step: SendStep | None,
    *,
    resend_in_doubt_too: bool = False,
) -> ReminderSummary:
    """One round for `survey`; `send_step` None is a dry run (plans, renders, writes nothing).
    Each wave's reminders are asked of the wave's gates (`cxops.gates.registry`: the contact
    policy, the interview goal …), as invitations are."""
    now = settings.clock()
    dry_run = send_step is None
    notes: list[str] = []
    if survey.invitation.reminder is None:
        return ReminderSummary(survey.id, now, dry_run, notes=("the survey sends no reminders",))
    closed = [] if dry_run else status.close_expired(store, survey, settings, now)
    steps: list[StepSummary] = []
    for wave_id in status.open_waves(store, survey.id):
        # One wave's steps share its gates: a `per` group counts a person once a round.
        gates = gates_for(store, WaveContext(survey, settings, wave_id, now, 1))
        for step in reminder_steps(survey):
            wave = WaveContext(survey, settings, wave_id, now, step)
            if send_step is None:
                plan = plan_step(store, wave, gates)
                steps.append(_summary(wave, plan, {}, 0, rendered=_render_all(wave, plan)))
                continue
            notes += start_sending(store, wave, resend_in_doubt_too=resend_in_doubt_too)
            skip_stale(store, wave, now)
            plan = plan_step(store, wave, gates)
            add_in_locale_batches(wave, store, plan.rows)
            # What this round sent is what its own claims sent: a round running at the
            # same time sends the rest, and each reports its own.
            sent_now = 0
            if plan.due:
                sent_now = send_step(wave)
            counts = wave_counts(store, survey.id, wave_id, step)
            steps.append(_summary(wave, plan, counts, sent_now))
    if any(REMINDER_GOAL_REACHED in step.skipped for step in steps):
        notes.append("the interview goal is reached: no more reminders")
    return ReminderSummary(survey.id, now, dry_run, steps, closed, tuple(notes))


def _render_all(wave: WaveContext, plan: StepPlan) -> int:
    """Render every due reminder (a dry run proves the templates work); how many."""

    def view(index: int, row: dict[str, Any], expires_at: datetime) -> SendView:
        return SendView(
            send_id=f"dry-run-{wave.step}-{index}",
            email=row["email"],
            contact_key=row["contact_key"],
            segment=row["segment"],
            locale=row["locale"],
            contact=row["contact"],
            step=wave.step,
            expires_at=expires_at,
            variant=row.get("variant"),
        )

    return render_all(wave, plan.rows, view)


def _summary(
    wave: WaveContext,
    plan: StepPlan,
    counts: Mapping[str, Any],
    sent_now: int,
    *,
    rendered: int | None = None,
) -> StepSummary:
    return StepSummary(
        wave=wave.wave_id,
        step=wave.step,
        due=plan.due,
        waiting=plan.waiting,
        skipped=dict(plan.skipped),
        sent=counts.get("sent", 0),
        in_doubt=counts.get("in_doubt", 0),
        failed=counts.get("failed", 0),
        pending=counts.get("pending", 0),
        sent_now=sent_now,
        rendered=rendered,
        held=dict(plan.held),
    )


def reminder_markdown(summary: ReminderSummary) -> str:
    """The round as a Prefect artifact."""
    data = summary.as_dict()
    lines = [
        f"# Reminders of `{summary.survey}` at {data['now']}",
        "",
        f"due {data['due']} · sent {data['sent']} · in doubt {data['in_doubt']} · "
        f"failed {data['failed']} · waiting {data['waiting']}",
        "",
        "| wave | step | due | sent now | sent in all | in doubt | waiting | skipped |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for step in summary.steps:
        skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(step.skipped.items()))
        lines.append(
            f"| {step.wave} | {step.step} | {step.due} | {step.sent_now} | {step.sent} | "
            f"{step.in_doubt} | {step.waiting} | {skipped or '—'} |"
        )
    for wave in summary.closed:
        rate = rate_text(wave["response_rate"])
        lines += [
            "",
            f"wave {wave['wave']} closed: {wave['answered']} of {wave['invited']} answered "
            f"(response rate {rate})",
        ]
    return "\n".join(lines) + "\n"
