"""Escalation of overdue tasks: one email per task and escalation step.

The step is `cxops.followup.sla.escalation_step` (pure); the recipient is the rule's
`escalate_to`, else the survey's owner (`cxops.followup.assign.escalation_recipient`).
Each (task, step) is claimed as a notification before it is sent, so a retried run
never sends it twice; a step certainly not delivered (`retry`) is tried on the next run,
one a dead run may have sent (`in_doubt`) is reported once and counts as done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cxops.channels.base import Channel
from cxops.followup.assign import escalation_recipient
from cxops.followup.digest import local_day, task_item
from cxops.followup.links import task_link
from cxops.followup.mailing import Email, send_and_record, sender_of
from cxops.followup.rules import survey_rules
from cxops.followup.sla import escalation_step
from cxops.followup.templates import render_email
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store import notifications as n
from cxops.store import tasks as q
from cxops.store.db import Store


@dataclass
class EscalationRun:
    sent: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": len(self.sent),
            "failed": len(self.failed),
            "escalations": self.sent + self.failed,
        }


@dataclass(frozen=True, slots=True)
class _Step:
    email: Email
    task_id: int
    step: int


def escalate_overdue(
    settings: Settings,
    store: Store,
    surveys: Mapping[str, Survey],
    channel: Channel,
    *,
    now: datetime | None = None,
) -> EscalationRun:
    """One email per overdue task and escalation step, to `escalate_to`, else the owner."""
    now = now or settings.clock()
    run = EscalationRun()
    claimer = n.Claimer.new(settings.send_lease_seconds)
    day = local_day(now)
    pending: dict[str, list[_Step]] = defaultdict(list)
    with store.session(write=True) as session:
        views = q.list_tasks(session, now=now, status="overdue")
        for view in views:
            task = view.task
            survey = surveys.get(task.survey_id)
            rule = survey_rules(survey).get(task.rule_id, (None, ""))[0] if survey else None
            timezone = survey.timezone if survey else "UTC"
            step = escalation_step(
                task.due_at, now, rule.due if rule else None, timezone, settings.holidays
            )
            if step <= task.escalation_step:
                continue
            recipient = escalation_recipient(
                escalate_to=rule.escalate_to if rule else None,
                owner=survey.owner if survey else None,
                fallback=rule.fallback if rule else None,
                assignee=task.assignee,
            )
            key = f"escalation:{task.id}:{step}"
            outcome = n.claim_notification(session, key, "escalation", recipient, now, claimer)
            if outcome == "busy":  # a live run is sending it and will record the step
                continue
            if outcome != "claimed":
                q.set_escalation_step(session, task.id, step)
                if outcome == "in_doubt":
                    run.failed.append(_entry(task.id, step, recipient, "in_doubt"))
                continue
            item = task_item(view, survey, now, task_link(settings, view.key, now))
            subject, html, text = render_email(
                settings.project_dir,
                "escalation",
                {
                    "item": item,
                    "step": step,
                    "recipient": recipient,
                    "overdue_for": overdue_for(now - task.due_at),
                },
            )
            sender = survey.invitation.from_ if survey else sender_of(surveys.values(), recipient)
            email = Email(
                key,
                recipient,
                sender,
                task.assignee,
                subject,
                html,
                text,
                (("task", str(task.id)),),
            )
            pending[task.survey_id].append(_Step(email, task.id, step))
    for survey_id, steps in pending.items():
        emails = [s.email for s in steps]
        wave_id = f"escalations-{day}"
        statuses = send_and_record(store, channel, survey_id, wave_id, emails, now, claimer)
        with store.session(write=True) as session:
            for due in steps:
                status = statuses[due.email.key]
                if status == "busy":  # taken over by another run, which records it
                    continue
                if status != "retry":  # sent, failed for good, or in doubt: this step is done
                    q.set_escalation_step(session, due.task_id, due.step)
                entry = _entry(due.task_id, due.step, due.email.to, status)
                (run.sent if status == "sent" else run.failed).append(entry)
    return run


def _entry(task_id: int, step: int, to: str, status: str) -> dict[str, Any]:
    return {"task": task_id, "step": step, "to": to, "status": status}


def overdue_for(delta: timedelta) -> str:
    """`3d 4h` or `5h`: how long a task is past its due time."""
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"
