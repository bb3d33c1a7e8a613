"""Sending the daily digest: one email per assignee with open tasks, once a day.

What a digest says is `cxops.followup.digest` (pure); this module claims each
(assignee, day), renders the digest template and sends the batch through
`cxops.followup.mailing.send_and_record`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cxops.channels.base import BatchContext, Channel
from cxops.followup.digest import Digest, build_digests, local_day
from cxops.followup.links import my_tasks_link, task_link
from cxops.followup.mailing import Email, send_and_record, sender_of
from cxops.followup.templates import render_email
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store import notifications as n
from cxops.store import tasks as q
from cxops.store.db import Store
from cxops.store.tasks import TaskView


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
    moment = now or settings.clock()
    day = local_day(moment, timezone)
    run = DigestRun(day)
    claimed: list[tuple[Email, Digest]] = []

    def link_for(view: TaskView) -> str:
        return task_link(settings, view.key, moment)

    with store.session(write=True) as session:
        views = q.open_tasks(session, awake_at=moment)
        batch_no = n.count_notifications(session, kind="digest", prefix="digest:")
        for built in build_digests(views, surveys, moment, day, link_for):
            digest = replace(built, list_link=my_tasks_link(settings, built.assignee, moment))
            key = f"digest:{digest.assignee}:{day}"
            if not n.claim_notification(session, key, "digest", digest.assignee, moment):
                run.already_sent.append(digest.assignee)
                continue
            own = [surveys[i.survey_id] for i in digest.items if i.survey_id in surveys]
            subject, html, text = render_email(settings.project_dir, "digest", {"digest": digest})
            sender = sender_of(own or surveys.values(), digest.assignee)
            claimed.append((Email(key, digest.assignee, sender, None, subject, html, text), digest))
    context = BatchContext(survey_id="_digests", wave_id=day, batch=batch_no)
    statuses = send_and_record(store, channel, context, [e for e, _ in claimed], moment)
    for email, digest in claimed:
        status = statuses[email.key]
        entry = {
            "assignee": digest.assignee,
            "tasks": len(digest.items),
            "overdue": digest.overdue_count,
            "status": status,
        }
        (run.sent if status == "sent" else run.failed).append(entry)
    return run
