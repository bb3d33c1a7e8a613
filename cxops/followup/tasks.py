"""What a CSM (through the CLI or a page) does with tasks: list, close, reassign, snooze.

The edges (`cxops.cli`, the collector) call these; they never query the store.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from cxops.audience.contacts import normalize_email
from cxops.channels.base import Channel
from cxops.errors import CxopsError, NotFoundError
from cxops.followup.digest import TaskItem, format_local, order_key, task_item
from cxops.followup.links import assignee_ref, task_link
from cxops.followup.mailing import Email, send_and_record
from cxops.followup.rows import task_rows
from cxops.followup.staff_mail import staff_item, staff_reader
from cxops.followup.templates import render_email
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store import notifications as n
from cxops.store import people
from cxops.store import tasks as q
from cxops.store.db import Store
from cxops.store.models import Task
from cxops.store.tasks import StatusFilter


def list_task_rows(
    store: Store,
    surveys: Mapping[str, Survey],
    now: datetime,
    *,
    status: StatusFilter = "open",
    assignee: str | None = None,
    survey_id: str | None = None,
) -> list[dict[str, Any]]:
    """Tasks as rows (`cxops.followup.rows.task_row`), overdue first then by due time."""
    with store.session() as session:
        views = q.list_tasks(
            session, now=now, status=status, assignee=assignee, survey_id=survey_id
        )
        return task_rows(views, surveys, now)


def close_task(
    store: Store,
    task_id: int,
    outcome: str,
    note: str | None,
    now: datetime,
    steps: Sequence[str] = (),
) -> dict[str, Any]:
    """Close an open task with an outcome, ticking playbook `steps` (each its number from
    1 or its text) first; its id, status, outcome, note and the steps done.

    As on the task page, `resolved` needs every step ticked or a note saying why not.
    """
    with store.session(write=True) as session:
        found = session.get(Task, task_id)
        if found is None:
            raise NotFoundError(f"no task {task_id}")
        ticked = step_indexes(task_id, found.steps or [], steps)
        task = q.close_task(session, task_id, outcome, note, now, ticked)
        return {
            "id": task.id,
            "status": task.status,
            "outcome": task.outcome,
            "note": task.note,
            "steps_done": [(task.steps or [])[i] for i in task.steps_done or []],
        }


def step_indexes(task_id: int, steps: Sequence[str], chosen: Sequence[str]) -> list[int]:
    """The indexes of the `chosen` steps (a number from 1, or a step's text, any case)."""
    by_text = {text.strip().casefold(): index for index, text in enumerate(steps)}
    indexes = []
    for value in chosen:
        text = value.strip()
        if text.isdigit() and 1 <= int(text) <= len(steps):
            indexes.append(int(text) - 1)
        elif text.casefold() in by_text:
            indexes.append(by_text[text.casefold()])
        elif not steps:
            raise CxopsError(f"--step {value!r}: task {task_id} has no playbook steps")
        else:
            expected = ", ".join(f"{i} ({t})" for i, t in enumerate(steps, start=1))
            raise CxopsError(
                f"--step {value!r}: task {task_id} has no such step; expected one of {expected}"
            )
    return indexes


@dataclass
class Assigned:
    """A reassigned task and whether its new assignee was told (`sent`, `already_sent`, …)."""

    id: int
    assignee: str
    previous: str
    told: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "assignee": self.assignee,
            "previous": self.previous,
            "told": self.told,
        }


def assign_task(
    settings: Settings,
    store: Store,
    channel: Channel,
    task_id: int,
    email: str,
    note: str | None,
    now: datetime,
    *,
    expected: int | None = None,
) -> Assigned:
    """Give an open task to `email` and tell them at once, in one email.

    The email is claimed under `assigned:<task>:<assignment>` before it is sent, so a
    retried command (or page submit) never sends it twice; run again with the same
    address, it only finishes what was not done (an email left `retry` is sent).
    `expected` is the assignment a page showed (`q.reassign_task`'s guard).
    """
    normal = normalize_email(email)
    address = normal.lower() if normal else None  # assignees are kept lower-case
    if address is None:
        raise CxopsError(f"not an email address: {email!r}")
    with store.session(write=True) as session:
        before = q.get_task(session, task_id).task.assignee
        task = q.reassign_task(session, task_id, address, note, now, expected)
        key = f"assigned:{task.id}:{task.assignment}"
        previous = before if before != address else _previous_assignee(task.note, before)
        claimer = n.Claimer.new(settings.send_lease_seconds)
        outcome = (
            n.claim_notification(session, key, "assignment", address, now, claimer)
            if task.assignment > 0
            else "done"
        )
    if outcome != "claimed":
        told = {"done": "already_sent", "busy": "being_sent"}.get(outcome, outcome)
        return Assigned(task_id, address, previous, told)
    with store.session() as session:
        view = q.get_task(session, task_id)
    survey = _survey_of(settings, view.task.survey_id)
    reader = staff_reader(settings, address)
    item = staff_item(view, survey, now, task_link(settings, view.key, now), reader)
    context = {**reader.words.template_context(), "item": item, "previous": previous}
    subject, html, text = render_email(
        settings.project_dir, "assigned", {**context, "note": note or ""}
    )
    sender = survey.invitation.from_ if survey else address
    mail = Email(key, address, sender, previous, subject, html, text, (("task", str(task_id)),))
    survey_id = view.task.survey_id
    statuses = send_and_record(store, channel, survey_id, "assignments", [mail], now, claimer)
    return Assigned(task_id, address, previous, statuses[key])


def snooze_task(
    settings: Settings, store: Store, task_id: int, until: str, note: str | None, now: datetime
) -> dict[str, Any]:
    """Snooze an open task until `until` (a date: its start in the survey's time zone; or
    an ISO date and time): out of the digest, no escalation, the reason kept."""
    with store.session() as session:
        survey_id = q.get_task(session, task_id).task.survey_id
    survey = _survey_of(settings, survey_id)
    moment = parse_until(until, survey.timezone if survey else "UTC")
    with store.session(write=True) as session:
        task = q.snooze_task(session, task_id, moment, note, now)
        return {"id": task.id, "snoozed_until": moment.isoformat(), "note": task.note}


def parse_until(text: str, timezone: str) -> datetime:
    """`2026-12-01` (the day's start in `timezone`) or `2026-12-01T14:00[+01:00]`."""
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CxopsError(
            f"--until: expected a date (YYYY-MM-DD) or an ISO date and time, found {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


def _previous_assignee(notes: str | None, fallback: str) -> str:
    """The assignee before the latest reassignment, from the task's notes."""
    for line in reversed((notes or "").splitlines()):
        if " reassigned from " in line:
            return line.split(" reassigned from ", 1)[1].split(" to ", 1)[0]
    return fallback


def _survey_of(settings: Settings, survey_id: str) -> Survey | None:
    from cxops.spec.lookup import project_surveys

    found = project_surveys(settings.surveys_path, settings.project_dir, checks=False)
    return found.surveys.get(survey_id)


#: The filters of an assignee's list page: which tasks, and in what words.
LIST_STATUSES: tuple[StatusFilter, ...] = ("open", "overdue", "snoozed", "done", "all")
PRIORITIES = ("urgent", "high", "normal", "low")


@dataclass(frozen=True, slots=True)
class ListedTask:
    """One row of an assignee's list: the task item and its snooze, if any."""

    item: TaskItem
    snoozed_until: str | None
    #: The playbook: (index, step, ticked) per step, so the list can close it as the page does.
    steps: tuple[tuple[int, str, bool], ...] = ()


def assignee_tasks(
    store: Store,
    surveys: Mapping[str, Survey],
    now: datetime,
    assignee: str,
    link_for: Callable[[q.TaskView], str],
    *,
    status: StatusFilter = "open",
    survey_id: str | None = None,
    priority: str | None = None,
    word: Callable[[TaskItem, q.TaskView, Survey | None], TaskItem] | None = None,
) -> list[ListedTask]:
    """`assignee`'s tasks (theirs only), overdue first then by due time and priority;
    each item passed through `word` (a page's language) when given."""
    with store.session() as session:
        views = q.list_tasks(
            session, now=now, status=status, assignee=assignee, survey_id=survey_id
        )
    listed = []
    for view in views:
        if priority and view.task.priority != priority:
            continue
        survey = surveys.get(view.task.survey_id)
        item = task_item(view, survey, now, link_for(view))
        if word is not None:
            item = word(item, view, survey)
        snoozed = view.task.snoozed_until if q.is_snoozed(view.task, now) else None
        until = format_local(snoozed, survey.timezone if survey else "UTC") if snoozed else None
        done = set(view.task.steps_done or [])
        steps = tuple((i, text, i in done) for i, text in enumerate(view.task.steps or []))
        listed.append((order_key(item, view.task.due_at), ListedTask(item, until, steps)))
    return [entry for _, entry in sorted(listed, key=lambda pair: pair[0])]


def assignee_for_ref(settings: Settings, store: Store, ref: str) -> str | None:
    """The assignee an `assignee_ref` names (among everyone who has a task), or None."""
    with store.session() as session:
        everyone = people.assignees(session)
    for person in everyone:
        if hmac.compare_digest(assignee_ref(settings, person), ref):
            return person
    return None


def close_assignee_task(
    store: Store,
    assignee: str,
    task_id: int,
    outcome: str,
    note: str | None,
    now: datetime,
    steps_done: Sequence[int] = (),
) -> None:
    """Close one of `assignee`'s open tasks, ticking `steps_done` first; NotFoundError
    when it is not theirs. When `resolved` is refused for open steps (StepsOpenError),
    the steps ticked are kept."""
    try:
        with store.session(write=True) as session:
            if q.get_task(session, task_id).task.assignee != assignee:
                raise NotFoundError(f"no task {task_id} for {assignee}")
            q.close_task(session, task_id, outcome, note, now, steps_done)
    except q.StepsOpenError:
        with store.session(write=True) as session:
            q.save_steps(session, task_id, steps_done)
        raise
