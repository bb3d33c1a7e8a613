"""Escalation of overdue tasks: one email per task and escalation step.

The step is `cxops.followup.sla.escalation_step` (pure); the recipient is the rule's
`escalate_to`, else the survey's owner (`cxops.followup.assign.escalation_recipient`).
Each (task, step) is claimed as a notification before it is sent, so a retried run
never sends it twice; a step certainly not delivered (`retry`) is tried on the next run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cxops.channels.base import BatchContext, Channel
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
    day = local_day(now)
    pending: dict[str, list[_Step]] = defaultdict(list)
    with store.session(write=True) as session:
        views = q.list_tasks(session, now=now, status="overdue")
        batch_no = n.count_notifications(session, kind="escalation")
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
            if not n.claim_notification(session, key, "escalation", recipient, now):
                q.set_escalation_step(session, task.id, step)
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
        context = BatchContext(survey_id=survey_id, wave_id=f"escalations-{day}", batch=batch_no)
        batch_no += 1
        statuses = send_and_record(store, channel, context, [s.email for s in steps], now)
        with store.session(write=True) as session:
            for due in steps:
                status = statuses[due.email.key]
                entry = {
                    "task": due.task_id,
                    "step": due.step,
                    "to": due.email.to,
                    "status": status,
                }
                if status != "retry":  # sent, failed for good, or in doubt: this step is done
                    q.set_escalation_step(session, due.task_id, due.step)
                (run.sent if status == "sent" else run.failed).append(entry)
    return run


def overdue_for(delta: timedelta) -> str:
    """`3d 4h` or `5h`: how long a task is past its due time."""
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"
