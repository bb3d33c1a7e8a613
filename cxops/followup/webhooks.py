"""Delivering the queued `notify:` webhooks of new tasks (at most WEBHOOK_MAX_RUNS runs each).

`cxops.followup.apply` queues one notification per new or reopened task; each run
claims the queued ones, POSTs them (`cxops.followup.notify`: signing, retries within
a run) and records the result. A webhook stays `pending` while it is POSTed (never
`sending`): a dead run's claim is claimed again, since a webhook is delivered at least
once under one delivery id (`X-Cxops-Delivery`) that receivers deduplicate. The body
depends on the rule's `format`: `json` is the signed task payload (built from the one
task row), `slack` and `teams` the chat messages of `cxops.followup.chat`. The URL is
the rule's `url`, or the value of the environment variable `url_env` names (read at
send time, never stored).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxops.followup import notify
from cxops.followup.chat import TaskCard, slack_message, teams_message
from cxops.followup.digest import format_local
from cxops.followup.history import score_and_comment
from cxops.followup.links import task_link
from cxops.followup.rows import task_row
from cxops.followup.rules import survey_rules
from cxops.settings import Settings
from cxops.spec.models import Notify, Survey
from cxops.store import notifications as n
from cxops.store import tasks as q
from cxops.store.db import Store

#: Flow runs that try a webhook before it is given up (each run tries `attempts` times).
WEBHOOK_MAX_RUNS = 5
#: The task row's fields a payload's `task` carries (with `url`).
PAYLOAD_TASK_FIELDS = (
    "id",
    "survey",
    "wave",
    "rule",
    "title",
    "assignee",
    "priority",
    "status",
    "due",
    "created_at",
)


@dataclass
class WebhookRun:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)

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
        keys = [x.key for x in n.notifications_to_retry(session, "webhook", WEBHOOK_MAX_RUNS)]
    claimer = n.Claimer.new(settings.send_lease_seconds)
    for key in keys:
        with store.session(write=True) as session:
            if n.claim_notification(session, key, "webhook", "", now, claimer) != "claimed":
                continue
            task_id = int(key.split(":", 1)[1])
            view = q.get_task(session, task_id)
            survey = surveys.get(view.task.survey_id)
            rule = survey_rules(survey).get(view.task.rule_id, (None, ""))[0] if survey else None
            attempt_no = n.attempts(session, key)
        if rule is None or rule.notify is None:
            result = notify.WebhookResult("failed", 0, "the rule has no notify: any more")
        else:
            body = message_for(rule.notify, settings, view, survey, now)
            result = _post(rule.notify, body, key, now, attempts, backoff)
        status: str = result.status
        if status == "retry" and attempt_no >= WEBHOOK_MAX_RUNS:
            status = "failed"
        with store.session(write=True) as session:
            n.finish_notification(session, key, status, now, claimer, result.error)
        run.count(status)
        if result.error:
            run.errors.append({"task": task_id, "status": status, "error": result.error})
    return run


def task_payload(
    settings: Settings, view: q.TaskView, survey: Survey | None, now: datetime
) -> dict[str, Any]:
    """The JSON a `notify:` webhook receives for a new task."""
    row = task_row(view, survey, now)
    return {
        "event": "task.created",
        "task": {
            **{name: row[name] for name in PAYLOAD_TASK_FIELDS},
            "url": task_link(settings, view.key, now),
        },
        "customer": {
            "contact_key": row["contact_key"],
            "name": row["customer"],
            "email": row["email"],
            "segment": row["segment"],
        },
        "answers": row["answers"],
        "category": row["category"],
        "context": row["context"],
    }


def message_for(
    target: Notify, settings: Settings, view: q.TaskView, survey: Survey | None, now: datetime
) -> dict[str, Any]:
    """The body the rule's `format` asks for."""
    if target.format == "json":
        return task_payload(settings, view, survey, now)
    card = task_card(view, survey, task_link(settings, view.key, now))
    return slack_message(card) if target.format == "slack" else teams_message(card)


def task_card(view: q.TaskView, survey: Survey | None, link: str) -> TaskCard:
    """What a chat message shows: customer, score (with its category), comment, due date."""
    row = task_row(view, survey, view.task.created_at)
    score, comment = score_and_comment(survey, view.answers)
    return TaskCard(
        title=view.task.title,
        survey=survey.name if survey else view.task.survey_id,
        customer=row["customer"],
        email=view.email,
        score=score,
        comment=comment,
        due=format_local(view.task.due_at, survey.timezone if survey else "UTC"),
        assignee=view.task.assignee,
        priority=view.task.priority,
        url=link,
    )


def _post(
    target: Notify,
    payload: dict[str, Any],
    key: str,
    now: datetime,
    attempts: int,
    backoff: float,
) -> notify.WebhookResult:
    url = target.url
    if target.url_env is not None:
        url = os.environ.get(target.url_env) or None
        if url is None:
            return notify.WebhookResult(
                "retry", 0, f"environment variable {target.url_env} is not set"
            )
    if url is None:  # the model holds exactly one of url and url_env
        return notify.WebhookResult("failed", 0, "the rule names no URL")
    secret: bytes | None = None
    if target.secret_env:
        value = os.environ.get(target.secret_env)
        if not value:
            return notify.WebhookResult(
                "retry", 0, f"environment variable {target.secret_env} is not set"
            )
        secret = value.encode()
    body = notify.encode(payload)
    headers = notify.headers_for(key, body, secret, int(now.timestamp()))
    return notify.post(url, body, headers, attempts=attempts, backoff=backoff)
