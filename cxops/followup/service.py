"""The follow-up work against the store and the channel: the I/O edge around the pure
rules, assignment, SLA, digest and measures modules. Flows and the CLI call these.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cxops.channels.base import BatchContext, Channel
from cxops.errors import SurveyError
from cxops.expr import Evaluator
from cxops.followup import notify
from cxops.followup.assign import escalation_recipient
from cxops.followup.category import response_category
from cxops.followup.digest import Digest, TaskItem, build_digests, local_day, task_item
from cxops.followup.measures import AnswerRecord, TaskRecord, compute_measures
from cxops.followup.rules import (
    Create,
    Failed,
    Reopen,
    Reversion,
    Withdraw,
    decide,
    survey_rules,
)
from cxops.followup.sla import escalation_step
from cxops.followup.templates import render_email
from cxops.messages.tokens import make_token
from cxops.messages.types import MessageGroup, Recipient
from cxops.settings import Settings
from cxops.spec.loader import load_survey, survey_files
from cxops.spec.models import Survey
from cxops.store import tasks as q
from cxops.store.db import Store

log = logging.getLogger(__name__)

#: How long a task link in a digest or escalation stays valid.
TASK_LINK_TTL = timedelta(days=30)
#: Flow runs that try a webhook before it is given up (each run tries `attempts` times).
WEBHOOK_MAX_RUNS = 5
BATCH = 500


# -- surveys --------------------------------------------------------------------------


@dataclass
class LoadedSurveys:
    surveys: dict[str, Survey]
    #: File -> why it was skipped.
    skipped: dict[str, str] = field(default_factory=dict)


def load_project_surveys(settings: Settings) -> LoadedSurveys:
    """Every survey of the project; a file that does not load is skipped and named."""
    loaded = LoadedSurveys({})
    for path in survey_files(settings.surveys_path):
        try:
            survey = load_survey(path)
        except SurveyError as exc:
            loaded.skipped[str(path)] = str(exc)
            continue
        loaded.surveys[survey.id] = survey
    return loaded


# -- rules to tasks -------------------------------------------------------------------


@dataclass
class RuleCounts:
    created: int = 0
    reopened: int = 0
    withdrawn: int = 0
    reversioned: int = 0
    failed: int = 0


@dataclass
class SurveyRun:
    survey: str
    evaluated: int = 0
    by_rule: dict[str, RuleCounts] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def counts(self, rule_id: str) -> RuleCounts:
        return self.by_rule.setdefault(rule_id, RuleCounts())

    def total(self, name: str) -> int:
        return sum(getattr(counts, name) for counts in self.by_rule.values())

    def as_dict(self) -> dict[str, Any]:
        names = ("created", "reopened", "withdrawn", "reversioned", "failed")
        return {
            "survey": self.survey,
            "evaluated": self.evaluated,
            **{name: self.total(name) for name in names},
            "by_rule": {rule: vars(c).copy() for rule, c in sorted(self.by_rule.items())},
            "failures": self.failures[:50],
        }


def apply_rules(
    settings: Settings,
    store: Store,
    survey: Survey,
    *,
    replay: bool = False,
    now: datetime | None = None,
) -> SurveyRun:
    """Make the survey's tasks agree with its rules for new and edited answers (all with `replay`)."""
    now = now or settings.clock()
    evaluator = Evaluator(now, settings.holidays)
    rules = survey_rules(survey)
    run = SurveyRun(survey.id)
    with store.session() as session:
        since = None if replay else q.read_cursor(session, survey.id)
        mark = q.latest_update(session, survey.id)
        if replay:
            # Tasks of rules no longer in the survey, also for answers that never changed.
            for task in q.open_tasks_of_removed_rules(session, survey.id, rules):
                if q.withdraw_task(session, task.id, "the rule was removed from the survey", now):
                    run.counts(task.rule_id).withdrawn += 1
    after_id = 0
    while True:
        with store.session() as session:
            batch = q.response_batch(session, survey.id, since, after_id, BATCH)
            if not batch:
                break
            after_id = batch[-1].id
            existing = q.tasks_of_responses(session, [r.id for r in batch])
            for response in batch:
                run.evaluated += 1
                decisions = decide(
                    survey, response, existing[response.id], evaluator=evaluator, now=now
                )
                _apply(session, survey, response, decisions, run, now)
    # Everything updated before now has been looked at (a later clock in the store wins).
    with store.session() as session:
        q.write_cursor(session, survey.id, max(mark, now) if mark else now, now)
    return run


def _apply(session, survey: Survey, response, decisions, run: SurveyRun, now: datetime) -> None:
    rules = survey_rules(survey)
    for decision in decisions:
        if isinstance(decision, Create):
            task = q.insert_task(session, response, decision.draft, now)
            if task is not None:
                run.counts(decision.draft.rule_id).created += 1
                _queue_webhook(session, rules[decision.draft.rule_id][0], task.id, now)
        elif isinstance(decision, Reopen):
            if q.reopen_task(session, decision.task_id, decision.draft, now):
                run.counts(decision.draft.rule_id).reopened += 1
                _queue_webhook(session, rules[decision.draft.rule_id][0], decision.task_id, now)
        elif isinstance(decision, Withdraw):
            if q.withdraw_task(session, decision.task_id, decision.reason, now):
                run.counts(decision.rule_id).withdrawn += 1
        elif isinstance(decision, Reversion):
            if q.set_rule_version(session, decision.task_id, decision.rule_version):
                run.counts(decision.rule_id).reversioned += 1
        elif isinstance(decision, Failed):
            run.counts(decision.rule_id).failed += 1
            run.failures.append(
                {"response": response.id, "rule": decision.rule_id, "error": decision.message}
            )
            log.warning(
                "follow-up rule %s skipped for response %s: %s",
                decision.rule_id,
                response.id,
                decision.message,
            )


def _queue_webhook(session, rule, task_id: int, now: datetime) -> None:
    if rule.notify is not None:
        q.queue_notification(session, f"notify:{task_id}", "webhook", rule.notify.url, now)


# -- links ----------------------------------------------------------------------------


def task_link(settings: Settings, key: str, now: datetime) -> str:
    """The signed URL of a task's page."""
    token = make_token(settings.signing_key(), "task", key, now + TASK_LINK_TTL)
    return f"{settings.public_url}/t/{token}"


def _message_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _sender(surveys: Sequence[Survey], fallback: str) -> str:
    for survey in surveys:
        return survey.invitation.from_
    return fallback


# -- escalation -----------------------------------------------------------------------


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
    pending: dict[str, list[tuple[str, str, MessageGroup, int, int]]] = defaultdict(list)
    with store.session() as session:
        views = q.list_tasks(session, now=now, status="overdue")
        batch_no = q.count_notifications(session, kind="escalation")
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
            if not q.claim_notification(session, key, "escalation", recipient, now):
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
                    "overdue_for": _overdue_for(now - task.due_at),
                },
            )
            sender = (
                survey.invitation.from_ if survey else _sender(list(surveys.values()), recipient)
            )
            group = MessageGroup(
                from_header=sender,
                reply_to=task.assignee,
                subject=subject,
                html=html,
                text=text,
                recipients=[
                    Recipient(_message_id(key), recipient, None, {}, {}, {"task": str(task.id)})
                ],
            )
            pending[task.survey_id].append((key, recipient, group, task.id, step))
    for survey_id, items in pending.items():
        context = BatchContext(survey_id=survey_id, wave_id=f"escalations-{day}", batch=batch_no)
        batch_no += 1
        deliveries = {
            d.send_id: d for d in channel.send([group for _, _, group, _, _ in items], context)
        }
        with store.session() as session:
            for key, recipient, _, task_id, step in items:
                delivery = deliveries.get(_message_id(key))
                status = delivery.status if delivery else "in_doubt"
                q.finish_notification(
                    session,
                    key,
                    status,
                    now,
                    delivery.error if delivery else "no delivery reported",
                )
                entry = {"task": task_id, "step": step, "to": recipient, "status": status}
                if status == "sent":
                    q.set_escalation_step(session, task_id, step)
                    run.sent.append(entry)
                else:
                    if status != "retry":
                        q.set_escalation_step(session, task_id, step)
                    run.failed.append(entry)
    return run


def _overdue_for(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"


# -- webhooks -------------------------------------------------------------------------


@dataclass
class WebhookRun:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retry": self.retry,
            "failed": self.failed,
            "errors": self.errors[:50],
        }


def deliver_webhooks(
    settings: Settings,
    store: Store,
    surveys: Mapping[str, Survey],
    *,
    now: datetime | None = None,
    attempts: int = 3,
    backoff: float = 0.5,
) -> WebhookRun:
    """POST every queued `notify:` webhook (at most WEBHOOK_MAX_RUNS runs each)."""
    now = now or settings.clock()
    run = WebhookRun()
    with store.session() as session:
        keys = [n.key for n in q.notifications_to_retry(session, "webhook", WEBHOOK_MAX_RUNS)]
    for key in keys:
        with store.session() as session:
            if not q.claim_notification(session, key, "webhook", "", now):
                continue
            task_id = int(key.split(":", 1)[1])
            view = q.get_task(session, task_id)
            survey = surveys.get(view.task.survey_id)
            rule = survey_rules(survey).get(view.task.rule_id, (None, ""))[0] if survey else None
            attempt_no = session.get(q.Notification, key).attempts
        if rule is None or rule.notify is None:
            result = notify.WebhookResult("failed", 0, "the rule has no notify: any more")
        else:
            result = _post_task(settings, view, survey, rule, key, now, attempts, backoff)
        status = result.status
        if status == "retry" and attempt_no >= WEBHOOK_MAX_RUNS:
            status = "failed"
        with store.session() as session:
            q.finish_notification(session, key, status, now, result.error)
        setattr(run, status, getattr(run, status) + 1)
        if result.error:
            run.errors.append({"task": task_id, "status": status, "error": result.error})
    return run


def task_payload(
    settings: Settings, view: q.TaskView, survey: Survey | None, now: datetime
) -> dict[str, Any]:
    """The JSON a `notify:` webhook receives for a new task."""
    item = task_item(view, survey, now, task_link(settings, view.key, now))
    task = view.task
    return {
        "event": "task.created",
        "task": {
            "id": task.id,
            "survey": task.survey_id,
            "wave": task.wave_id,
            "rule": task.rule_id,
            "title": task.title,
            "assignee": task.assignee,
            "priority": task.priority,
            "status": task.status,
            "due": task.due_at.isoformat(),
            "created_at": task.created_at.isoformat(),
            "url": item.link,
        },
        "customer": {
            "contact_key": task.contact_key,
            "name": item.customer,
            "email": view.email,
            "segment": task.segment,
        },
        "answers": view.answers,
        "category": item.category,
        "context": task.context,
    }


def _post_task(settings, view, survey, rule, key, now, attempts, backoff) -> notify.WebhookResult:
    secret: bytes | None = None
    if rule.notify.secret_env:
        value = os.environ.get(rule.notify.secret_env)
        if not value:
            return notify.WebhookResult(
                "retry", 0, f"environment variable {rule.notify.secret_env} is not set"
            )
        secret = value.encode()
    body = notify.encode(task_payload(settings, view, survey, now))
    headers = notify.headers_for(key, body, secret, int(now.timestamp()))
    return notify.post(rule.notify.url, body, headers, attempts=attempts, backoff=backoff)


# -- digests --------------------------------------------------------------------------


@dataclass
class DigestRun:
    day: str
    sent: list[dict[str, Any]] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "sent": self.sent,
            "already_sent": self.already_sent,
            "failed": self.failed,
        }


def send_digests(
    settings: Settings,
    store: Store,
    surveys: Mapping[str, Survey],
    channel: Channel,
    *,
    now: datetime | None = None,
    timezone: str = "UTC",
) -> DigestRun:
    """Each assignee with open tasks gets one digest a day (the day in `timezone`)."""
    now = now or settings.clock()
    day = local_day(now, timezone)
    run = DigestRun(day)
    groups: list[tuple[str, Digest, MessageGroup]] = []
    with store.session() as session:
        views = q.open_tasks(session)
        batch_no = q.count_notifications(session, kind="digest", prefix="digest:")
        digests = build_digests(views, surveys, now, day, lambda v: task_link(settings, v.key, now))
        for digest in digests:
            key = f"digest:{digest.assignee}:{day}"
            if not q.claim_notification(session, key, "digest", digest.assignee, now):
                run.already_sent.append(digest.assignee)
                continue
            own = [surveys[i.survey_id] for i in digest.items if i.survey_id in surveys]
            subject, html, text = render_email(settings.project_dir, "digest", {"digest": digest})
            group = MessageGroup(
                from_header=_sender(own or list(surveys.values()), digest.assignee),
                reply_to=None,
                subject=subject,
                html=html,
                text=text,
                recipients=[Recipient(_message_id(key), digest.assignee, None, {}, {}, {})],
            )
            groups.append((key, digest, group))
    if not groups:
        return run
    context = BatchContext(survey_id="_digests", wave_id=day, batch=batch_no)
    deliveries = {d.send_id: d for d in channel.send([g for _, _, g in groups], context)}
    with store.session() as session:
        for key, digest, _ in groups:
            delivery = deliveries.get(_message_id(key))
            status = delivery.status if delivery else "in_doubt"
            q.finish_notification(
                session, key, status, now, delivery.error if delivery else "no delivery reported"
            )
            entry = {
                "assignee": digest.assignee,
                "tasks": len(digest.items),
                "overdue": digest.overdue_count,
            }
            (run.sent if status == "sent" else run.failed).append({**entry, "status": status})
    return run


# -- closing, listing, measures -------------------------------------------------------


def close_task(
    store: Store, task_id: int, outcome: str, note: str | None, now: datetime
) -> dict[str, Any]:
    with store.session() as session:
        task = q.close_task(session, task_id, outcome, note, now)
        return {"id": task.id, "status": task.status, "outcome": task.outcome, "note": task.note}


def task_rows(
    views: Sequence[q.TaskView], surveys: Mapping[str, Survey], now: datetime
) -> list[dict[str, Any]]:
    """Tasks as plain rows (the `tasks --json` shape, also for exports)."""
    rows = []
    for view in views:
        task = view.task
        survey = surveys.get(task.survey_id)
        item: TaskItem = task_item(view, survey, now, "")
        rows.append(
            {
                "id": task.id,
                "survey": task.survey_id,
                "wave": task.wave_id,
                "contact_key": task.contact_key,
                "customer": item.customer,
                "segment": task.segment,
                "rule": task.rule_id,
                "rule_version": task.rule_version,
                "title": task.title,
                "assignee": task.assignee,
                "priority": task.priority,
                "due": task.due_at.isoformat(),
                "status": task.status,
                "overdue": item.overdue,
                "outcome": task.outcome,
                "note": task.note,
                "escalation_step": task.escalation_step,
                "created_at": task.created_at.isoformat(),
                "closed_at": task.closed_at.isoformat() if task.closed_at else None,
                "category": item.category,
                "answers": view.answers,
            }
        )
    return rows


def measures(store: Store, surveys: Mapping[str, Survey], now: datetime) -> dict[str, Any]:
    """The loop measures over every task in the store."""

    def category(survey_id: str, answers: dict[str, Any]) -> str | None:
        survey = surveys.get(survey_id)
        if survey is None or survey.main_question is None:
            return None
        return response_category(survey.kind, survey.main_question.id, answers)

    with store.session() as session:
        views = q.all_tasks(session)
        history = q.answer_history(session)
    records = [
        TaskRecord(
            id=v.task.id,
            survey_id=v.task.survey_id,
            segment=v.task.segment,
            assignee=v.task.assignee,
            contact_key=v.task.contact_key,
            status=v.task.status,
            created_at=v.task.created_at,
            due_at=v.task.due_at,
            first_action_at=v.task.first_action_at,
            closed_at=v.task.closed_at,
            answered_at=v.answered_at,
            category=category(v.task.survey_id, v.answers),
        )
        for v in views
    ]
    answers = [AnswerRecord(s, c, at, category(s, a)) for s, c, at, a in history]
    return compute_measures(records, answers, now)


# -- the whole follow-up pass ---------------------------------------------------------


def run_followups(
    settings: Settings,
    store: Store,
    channel: Channel,
    *,
    replay: bool = False,
    surveys: LoadedSurveys | None = None,
    webhook_attempts: int = 3,
    webhook_backoff: float = 0.5,
) -> dict[str, Any]:
    """New answers to tasks, webhooks for new tasks, escalations of overdue ones."""
    now = settings.clock()
    loaded = surveys or load_project_surveys(settings)
    runs = [
        apply_rules(settings, store, s, replay=replay, now=now) for s in loaded.surveys.values()
    ]
    hooks = deliver_webhooks(
        settings, store, loaded.surveys, now=now, attempts=webhook_attempts, backoff=webhook_backoff
    )
    escalations = escalate_overdue(settings, store, loaded.surveys, channel, now=now)
    with store.session() as session:
        open_count = len(q.list_tasks(session, now=now, status="open"))
        overdue = len(q.list_tasks(session, now=now, status="overdue"))
    return {
        "now": now.isoformat(),
        "replay": replay,
        "surveys": [r.as_dict() for r in runs],
        "created": sum(r.total("created") + r.total("reopened") for r in runs),
        "withdrawn": sum(r.total("withdrawn") for r in runs),
        "failed": sum(r.total("failed") for r in runs),
        "webhooks": hooks.as_dict(),
        "escalations": escalations.as_dict(),
        "open": open_count,
        "overdue": overdue,
        "skipped_surveys": loaded.skipped,
    }


def open_channel(settings: Settings) -> Channel:
    """The configured channel (the outbox by default)."""
    from cxops.channels import make_channel

    return make_channel(settings)


__all__ = [
    "DigestRun",
    "EscalationRun",
    "LoadedSurveys",
    "SurveyRun",
    "WebhookRun",
    "apply_rules",
    "close_task",
    "deliver_webhooks",
    "escalate_overdue",
    "load_project_surveys",
    "measures",
    "open_channel",
    "run_followups",
    "send_digests",
    "task_link",
    "task_payload",
    "task_rows",
]
