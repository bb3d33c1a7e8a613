"""Escalation of overdue tasks: one email per recipient and run, listing each task due a
new escalation step.

The step is `cxops.followup.sla.escalation_step` (pure); the recipient is the rule's
`escalate_to`, else the survey's owner (`cxops.followup.assign.escalation_recipient`).
Each (task, step) is claimed as a notification, as before, and so is the run's message
to each recipient; the message's claim covers its tasks' (`mailing.send_and_record`'s
`covers`): they go `sending` with it and are recorded with its result. So a retried run
never escalates a step twice; a step certainly not delivered (`retry`) goes into the next
run's message, one a dead run may have sent (`in_doubt`) is reported once and counts as
done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cxops.channels.base import Channel
from cxops.followup.assign import escalation_recipient
from cxops.followup.digest import TaskItem, local_day
from cxops.followup.links import task_link
from cxops.followup.mail_words import MailWords
from cxops.followup.mailing import Email, send_and_record, sender_of
from cxops.followup.rules import survey_rules
from cxops.followup.sla import escalation_step
from cxops.followup.staff_mail import staff_item, staff_reader
from cxops.followup.templates import render_email
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store import notifications as n
from cxops.store import tasks as q
from cxops.store.db import Store
from cxops.store.tasks import TaskView


@dataclass
class EscalationRun:
    #: Task steps escalated (one entry per task and step).
    sent: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    #: The run's messages: one per recipient, with how many tasks it lists.
    emails: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": len(self.sent),
            "failed": len(self.failed),
            "escalations": self.sent + self.failed,
            "emails": self.emails,
        }


@dataclass(frozen=True, slots=True)
class _Step:
    """One task's escalation step, claimed for this run's message to `recipient`."""

    recipient: str
    key: str
    view: TaskView
    survey: Survey | None
    step: int


def escalate_overdue(
    settings: Settings,
    store: Store,
    surveys: Mapping[str, Survey],
    channel: Channel,
    *,
    now: datetime | None = None,
) -> EscalationRun:
    """One email per recipient (`escalate_to`, else the owner) listing every overdue task
    due a new escalation step, in the recipient's language; each step is escalated once."""
    now = now or settings.clock()
    run = EscalationRun()
    claimer = n.Claimer.new(settings.send_lease_seconds)
    steps: dict[str, list[_Step]] = defaultdict(list)
    with store.session(write=True) as session:
        for view in q.list_tasks(session, now=now, status="overdue"):
            due = _due_step(settings, view, surveys.get(view.task.survey_id), now)
            if due is None:
                continue
            outcome = n.claim_notification(
                session, due.key, "escalation", due.recipient, now, claimer
            )
            if outcome == "busy":  # a live run is sending it and will record the step
                continue
            if outcome != "claimed":
                q.set_escalation_step(session, view.task.id, due.step)
                if outcome == "in_doubt":
                    run.failed.append(_entry(view.task.id, due.step, due.recipient, "in_doubt"))
                continue
            steps[due.recipient].append(due)
        emails = [
            _message(settings, session, surveys, recipient, claimed, now, claimer)
            for recipient, claimed in sorted(steps.items())
        ]
    covers = {email.key: [due.key for due in steps[email.to]] for email in emails}
    wave_id = f"escalations-{local_day(now)}"
    statuses = send_and_record(
        store, channel, "_escalations", wave_id, emails, now, claimer, covers
    )
    with store.session(write=True) as session:
        for email in emails:
            status = statuses[email.key]
            if status == "busy":  # taken over by another run, which records it
                continue
            run.emails.append({"to": email.to, "tasks": len(steps[email.to]), "status": status})
            for due in steps[email.to]:
                if status != "retry":  # sent, failed for good, or in doubt: this step is done
                    q.set_escalation_step(session, due.view.task.id, due.step)
                entry = _entry(due.view.task.id, due.step, email.to, status)
                (run.sent if status == "sent" else run.failed).append(entry)
    return run


def _due_step(
    settings: Settings, view: TaskView, survey: Survey | None, now: datetime
) -> _Step | None:
    """The escalation step `view`'s task is due now, when it has not had it yet."""
    task = view.task
    rule = survey_rules(survey).get(task.rule_id, (None, ""))[0] if survey else None
    timezone = survey.timezone if survey else "UTC"
    step = escalation_step(
        task.due_at, now, rule.due if rule else None, timezone, settings.holidays
    )
    if step <= task.escalation_step:
        return None
    recipient = escalation_recipient(
        escalate_to=rule.escalate_to if rule else None,
        owner=survey.owner if survey else None,
        fallback=rule.fallback if rule else None,
        assignee=task.assignee,
    )
    return _Step(recipient, f"escalation:{task.id}:{step}", view, survey, step)


@dataclass(frozen=True, slots=True)
class Escalation:
    """One task in an escalation email."""

    item: TaskItem
    step: int
    overdue_for: str


def _message(
    settings: Settings,
    session: Session,
    surveys: Mapping[str, Survey],
    recipient: str,
    steps: list[_Step],
    now: datetime,
    claimer: n.Claimer,
) -> Email:
    """The run's one message to `recipient`, claimed under a key of its own."""
    reader = staff_reader(settings, recipient)
    ordered = sorted(steps, key=lambda due: (due.view.task.due_at, due.view.task.id))
    escalations = [
        Escalation(
            staff_item(due.view, due.survey, now, task_link(settings, due.view.key, now), reader),
            due.step,
            overdue_for(now - due.view.task.due_at, reader.words),
        )
        for due in ordered
    ]
    key = f"escalation-digest:{recipient}:{claimer.claim_id}"
    n.claim_notification(session, key, "escalation", recipient, now, claimer)
    context = {**reader.words.template_context(), "escalations": escalations}
    subject, html, text = render_email(settings.project_dir, "escalation", context)
    own = [due.survey for due in ordered if due.survey is not None]
    sender = sender_of(own or surveys.values(), recipient)
    return Email(key, recipient, sender, None, subject, html, text)


def _entry(task_id: int, step: int, to: str, status: str) -> dict[str, Any]:
    return {"task": task_id, "step": step, "to": to, "status": status}


def overdue_for(delta: timedelta, words: MailWords | None = None) -> str:
    """`3d 4h` or `5h` (in `words`' units): how long a task is past its due time."""
    hours = int(delta.total_seconds() // 3600)
    return (words or MailWords.of("en")).duration(hours)
