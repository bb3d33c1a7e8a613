"""Sending the daily digest: one email per assignee with open tasks, once a day.

What a digest says is `cxops.followup.digest` (pure); this module claims each
(assignee, day), renders the digest template and sends the batch through
`cxops.followup.mailing.send_and_record`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cxops.channels.base import Channel
from cxops.followup.digest import Digest, TaskItem, build_digests, local_day
from cxops.followup.links import my_tasks_link, task_link
from cxops.followup.mailing import Email, send_and_record, sender_of
from cxops.followup.staff_mail import StaffReader, staff_item, staff_reader
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
    #: Assignees whose digest of the day may have left (a run died while sending it, or
    #: the channel did not say): not sent again unless asked.
    in_doubt: list[str] = field(default_factory=list)
    #: Assignees whose digest another run, still alive, is sending.
    being_sent: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "sent": self.sent,
            "already_sent": self.already_sent,
            "in_doubt": self.in_doubt,
            "being_sent": self.being_sent,
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
    resend_in_doubt: bool = False,
) -> DigestRun:
    """Each assignee with open tasks gets one digest a day (the day in `timezone`); one
    in doubt is sent again only with `resend_in_doubt`."""
    moment = now or settings.clock()
    day = local_day(moment, timezone)
    run = DigestRun(day)
    claimer = n.Claimer.new(settings.send_lease_seconds)
    unclaimed = {"done": run.already_sent, "in_doubt": run.in_doubt, "busy": run.being_sent}
    claimed: list[tuple[Email, Digest]] = []

    def link_for(view: TaskView) -> str:
        return task_link(settings, view.key, moment)

    with store.session(write=True) as session:
        views = q.open_tasks(session, awake_at=moment)
        for built in build_digests(views, surveys, moment, day, link_for):
            reader = staff_reader(settings, built.assignee)
            digest = replace(
                built,
                items=_for_reader(built, views, surveys, moment, link_for, reader),
                list_link=my_tasks_link(settings, built.assignee, moment),
            )
            key = f"digest:{digest.assignee}:{day}"
            outcome = n.claim_notification(
                session,
                key,
                "digest",
                digest.assignee,
                moment,
                claimer,
                resend_in_doubt=resend_in_doubt,
            )
            if outcome != "claimed":
                unclaimed[outcome].append(digest.assignee)
                continue
            own = [surveys[i.survey_id] for i in digest.items if i.survey_id in surveys]
            context = {**reader.words.template_context(), "digest": digest}
            subject, html, text = render_email(settings.project_dir, "digest", context)
            sender = sender_of(own or surveys.values(), digest.assignee)
            claimed.append((Email(key, digest.assignee, sender, None, subject, html, text), digest))
    emails = [e for e, _ in claimed]
    statuses = send_and_record(store, channel, "_digests", day, emails, moment, claimer)
    for email, digest in claimed:
        status = statuses[email.key]
        if status in ("in_doubt", "busy"):
            unclaimed[status].append(digest.assignee)
            continue
        entry = {
            "assignee": digest.assignee,
            "tasks": len(digest.items),
            "overdue": digest.overdue_count,
            "status": status,
        }
        (run.sent if status == "sent" else run.failed).append(entry)
    return run


def _for_reader(
    digest: Digest,
    views: Sequence[TaskView],
    surveys: Mapping[str, Survey],
    now: datetime,
    link_for: Callable[[TaskView], str],
    reader: StaffReader,
) -> tuple[TaskItem, ...]:
    """The digest's items, in its order, as `reader` reads them (`staff_item`)."""
    by_id = {view.task.id: view for view in views}
    return tuple(
        staff_item(view, surveys.get(view.task.survey_id), now, link_for(view), reader)
        for view in (by_id[item.task_id] for item in digest.items)
    )
