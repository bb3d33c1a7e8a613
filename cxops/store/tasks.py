"""Queries over follow-up tasks and the responses they come from.

One coherent thing over 400 lines: every read and write of the `tasks` table (what
rules create, what people do to a task, what the lists show), so that each change of
a task's state is written once. Notifications and the cursor are in `notifications`,
queries about one person in `people`.

Every function takes an open `Session`; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Result,
    Select,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from cxops.errors import CxopsError, NotFoundError
from cxops.store.facts import ExistingTask, ResponseFacts, TaskFields
from cxops.store.models import Response, Send, Task
from cxops.store.responses import CONFIRMED
from cxops.store.sql import session_insert
from cxops.store.task_events import record_event

OUTCOMES: tuple[str, ...] = ("contacted", "resolved", "no response", "not needed")
StatusFilter = Literal["open", "done", "overdue", "snoozed", "withdrawn", "all"]
#: Responses updated this long before the cursor are looked at again (clock skew between
#: the collector and the flow); evaluating one twice changes nothing.
CURSOR_OVERLAP = timedelta(minutes=10)


# -- responses --------------------------------------------------------------------------


def _facts(response: Response, send: Send) -> ResponseFacts:
    return ResponseFacts(
        id=response.id,
        send_id=response.send_id,
        survey_id=response.survey_id,
        wave_id=response.wave_id,
        contact_key=response.contact_key,
        segment=response.segment,
        status=response.status,
        answers=dict(response.answers or {}),
        contact=dict(send.contact or {}),
        answered_at=response.submitted_at or response.first_answered_at,
        suspect=bool(response.suspect),
    )


def response_batch(
    session: Session, survey_id: str, since: datetime | None, after_id: int, limit: int = 1000
) -> list[ResponseFacts]:
    """Up to `limit` of the survey's confirmed responses with id > `after_id`, updated after
    `since` (all when None), by id. Provisional ones (a one-click score no person
    confirmed) are skipped: confirming one updates it, so a later run sees it."""
    query = (
        select(Response, Send)
        .join(Send, Send.send_id == Response.send_id)
        .where(Response.survey_id == survey_id, Response.id > after_id, CONFIRMED)
        .order_by(Response.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(Response.updated_at >= since - CURSOR_OVERLAP)
    return [_facts(response, send) for response, send in session.execute(query).all()]


def latest_update(session: Session, survey_id: str) -> datetime | None:
    return session.scalar(
        select(func.max(Response.updated_at)).where(Response.survey_id == survey_id)
    )


def answer_history(session: Session) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """(survey, contact, answered_at, answers) of every confirmed response not marked suspect."""
    rows = session.execute(
        select(
            Response.survey_id,
            Response.contact_key,
            Response.submitted_at,
            Response.first_answered_at,
            Response.answers,
        ).where(Response.suspect.is_(False), CONFIRMED)
    ).all()
    return [(s, c, sub or first, dict(a or {})) for s, c, sub, first, a in rows]


def tasks_of_responses(
    session: Session, response_ids: Sequence[int]
) -> dict[int, dict[str, ExistingTask]]:
    """Response id -> rule id -> its task."""
    found: dict[int, dict[str, ExistingTask]] = {rid: {} for rid in response_ids}
    if not response_ids:
        return found
    rows = session.scalars(select(Task).where(Task.response_id.in_(list(response_ids))))
    for task in rows:
        found[task.response_id][task.rule_id] = ExistingTask(
            task.id, task.rule_id, task.rule_version, task.status
        )
    return found


def open_tasks_of_removed_rules(
    session: Session, survey_id: str, rule_ids: Iterable[str]
) -> list[Task]:
    """Open tasks of a survey whose rule is no longer in it."""
    query = select(Task).where(Task.survey_id == survey_id, Task.status == "open")
    ids = list(rule_ids)
    if ids:
        query = query.where(Task.rule_id.not_in(ids))
    return list(session.scalars(query))


# -- writing tasks ----------------------------------------------------------------------


def insert_tasks(
    session: Session, new: Sequence[tuple[ResponseFacts, TaskFields]], now: datetime
) -> dict[tuple[int, str], int]:
    """The new tasks in one statement; (response id, rule id) -> id of each one made.

    One that another run made first is left out (`ON CONFLICT DO NOTHING` on the one
    task per response and rule): not counted, no webhook queued for it.
    """
    if not new:
        return {}
    rows = [
        {
            "response_id": response.id,
            "survey_id": response.survey_id,
            "wave_id": response.wave_id,
            "contact_key": response.contact_key,
            "segment": response.segment,
            "rule_id": draft.rule_id,
            "rule_version": draft.rule_version,
            "title": draft.title,
            "assignee": draft.assignee,
            "priority": draft.priority,
            "status": "open",
            "context": draft.context,
            "created_at": now,
            "due_at": draft.due_at,
            "escalation_step": 0,
            "assignment": 0,
            "snoozed_seconds": 0,
            "steps": list(draft.steps),
            "steps_done": [],
        }
        for response, draft in new
    ]
    statement = (
        session_insert(session, Task.__table__)
        .on_conflict_do_nothing(index_elements=["response_id", "rule_id"])
        .returning(Task.__table__.c.id, Task.__table__.c.response_id, Task.__table__.c.rule_id)
    )
    made = session.connection().execute(statement, rows)
    return {(response_id, rule_id): task_id for task_id, response_id, rule_id in made}


def reopen_task(session: Session, task_id: int, draft: TaskFields, now: datetime) -> bool:
    """A withdrawn task that matches again, as new; False when it is not withdrawn any more."""
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status == "withdrawn")
        .values(
            status="open",
            rule_version=draft.rule_version,
            title=draft.title,
            assignee=draft.assignee,
            priority=draft.priority,
            context=draft.context,
            created_at=now,
            due_at=draft.due_at,
            closed_at=None,
            outcome=None,
            escalation_step=0,
            steps=list(draft.steps),
            steps_done=[],
        )
    )
    return _one_row(result)


def withdraw_task(session: Session, task_id: int, reason: str, now: datetime) -> bool:
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status == "open")
        .values(status="withdrawn", outcome="withdrawn", note=reason, closed_at=now)
    )
    return _one_row(result)


def set_rule_version(session: Session, task_id: int, version: str) -> bool:
    result = session.execute(
        update(Task).where(Task.id == task_id, Task.status == "open").values(rule_version=version)
    )
    return _one_row(result)


def _one_row(result: Result[Any]) -> bool:
    """Whether an UPDATE changed exactly one row."""
    return isinstance(result, CursorResult) and result.rowcount == 1


# -- reading tasks ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task with the answer and customer it is about."""

    task: Task
    answers: dict[str, Any]
    contact: dict[str, Any]
    email: str
    send_id: str
    answered_at: datetime
    response_status: str

    @property
    def key(self) -> str:
        return task_key(self.send_id, self.task.rule_id, self.task.assignment)


def task_key(send_id: str, rule_id: str, assignment: int = 0) -> str:
    """What a task link's token carries: random and stable, no database id; after a
    reassignment also the assignment number, so an earlier assignee's link stops working."""
    base = f"{send_id}:{rule_id}"
    return f"{base}:{assignment}" if assignment else base


def is_snoozed(task: Task, now: datetime) -> bool:
    return task.status == "open" and task.snoozed_until is not None and now < task.snoozed_until


def _awake(now: datetime) -> ColumnElement[bool]:
    return or_(Task.snoozed_until.is_(None), Task.snoozed_until <= now)


def _views(session: Session, query: Select[Task]) -> list[TaskView]:
    rows = session.execute(
        query.add_columns(Response, Send)
        .join(Response, Response.id == Task.response_id)
        .join(Send, Send.send_id == Response.send_id)
    ).all()
    return [
        TaskView(
            task=task,
            answers=dict(response.answers or {}),
            contact=dict(send.contact or {}),
            email=send.email,
            send_id=send.send_id,
            answered_at=response.submitted_at or response.first_answered_at,
            response_status=response.status,
        )
        for task, response, send in rows
    ]


def list_tasks(
    session: Session,
    *,
    now: datetime,
    status: StatusFilter = "all",
    assignee: str | None = None,
    survey_id: str | None = None,
) -> list[TaskView]:
    """Tasks, overdue first then by due time; `overdue` is open and past due (and not
    snoozed), `snoozed` open and snoozed at `now`."""
    query = select(Task)
    if status == "overdue":
        query = query.where(Task.status == "open", Task.due_at < now, _awake(now))
    elif status == "snoozed":
        query = query.where(Task.status == "open", Task.snoozed_until > now)
    elif status != "all":
        query = query.where(Task.status == status)
    if assignee:
        query = query.where(Task.assignee == assignee.strip().lower())
    if survey_id:
        query = query.where(Task.survey_id == survey_id)
    views = _views(session, query.order_by(Task.due_at, Task.id))
    return sorted(
        views,
        key=lambda v: (
            not (v.task.status == "open" and v.task.due_at < now),
            v.task.due_at,
            v.task.id,
        ),
    )


def get_task(session: Session, task_id: int) -> TaskView:
    views = _views(session, select(Task).where(Task.id == task_id))
    if not views:
        raise NotFoundError(f"no task {task_id}")
    return views[0]


def find_task_by_key(
    session: Session, key: str, *, any_assignment: bool = False
) -> TaskView | None:
    """The task a link names; None also when it was reassigned since the link was made,
    unless `any_assignment` (an earlier assignee's link: who has it now)."""
    send_id, _, rest = key.partition(":")
    rule_id, _, number = rest.partition(":")
    if number and not number.isdigit():
        return None
    views = _views(
        session,
        select(Task).where(
            and_(
                Task.rule_id == rule_id,
                Task.response_id.in_(select(Response.id).where(Response.send_id == send_id)),
            )
        ),
    )
    if not views or (not any_assignment and views[0].task.assignment != int(number or 0)):
        return None
    return views[0]


def all_tasks(session: Session, survey_id: str | None = None) -> list[TaskView]:
    query = select(Task)
    if survey_id:
        query = query.where(Task.survey_id == survey_id)
    return _views(session, query.order_by(Task.id))


def open_tasks(session: Session, *, awake_at: datetime | None = None) -> list[TaskView]:
    """Open tasks by id; with `awake_at`, only those not snoozed at that moment."""
    query = select(Task).where(Task.status == "open")
    if awake_at is not None:
        query = query.where(_awake(awake_at))
    return _views(session, query.order_by(Task.id))


# -- acting on a task -------------------------------------------------------------------


class TaskClosedError(CxopsError):
    """The task is not open any more."""


class StepsOpenError(CxopsError):
    """`resolved` with playbook steps not ticked and no note saying why."""


class TaskMovedError(CxopsError):
    """The task was reassigned since the link (or page) acting on it was made."""


def close_task(
    session: Session,
    task_id: int,
    outcome: str,
    note: str | None,
    now: datetime,
    steps_done: Sequence[int] = (),
) -> Task:
    """Close an open task with an outcome (and a note), ticking `steps_done` first.

    `resolved` needs every playbook step ticked, or a note that says why not.
    """
    if outcome not in OUTCOMES:
        raise CxopsError(f"outcome must be one of {', '.join(OUTCOMES)}; found {outcome!r}")
    task = session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFoundError(f"no task {task_id}")
    if task.status != "open":
        raise TaskClosedError(f"task {task_id} is already {task.status}")
    tick_steps(task, steps_done)
    missing = open_steps(task)
    if outcome == "resolved" and missing and not (note or "").strip():
        raise StepsOpenError(
            f"task {task_id}: tick every step before resolved, or say in the note why not "
            f"(open: {'; '.join(missing)})"
        )
    record_event(task, "closed", now, outcome=outcome, text=(note or "").strip())
    task.status = "done"
    task.outcome = outcome
    task.note = _joined_note(task.note, note)
    task.closed_at = now
    task.first_action_at = task.first_action_at or now
    return task


def add_note(
    session: Session, task_id: int, note: str, now: datetime, steps_done: Sequence[int] = ()
) -> Task:
    """A note on an open task (and steps ticked): the first action taken, it stays open."""
    task = _open_task(session, task_id)
    tick_steps(task, steps_done)
    if (note or "").strip():
        record_event(task, "note", now, text=(note or "").strip())
    task.note = _joined_note(task.note, note)
    task.first_action_at = task.first_action_at or now
    return task


def tick_steps(task: Task, done: Sequence[int]) -> None:
    """Mark playbook steps (by index) as done; unknown indexes are ignored."""
    steps = task.steps or []
    ticked = set(task.steps_done or []) | {i for i in done if 0 <= i < len(steps)}
    task.steps_done = sorted(ticked)


def save_steps(session: Session, task_id: int, done: Sequence[int]) -> None:
    """Keep the steps a person ticked, also when closing was refused."""
    tick_steps(_open_task(session, task_id), done)


def open_steps(task: Task) -> list[str]:
    """The playbook steps not ticked yet, in order."""
    done = set(task.steps_done or [])
    return [step for i, step in enumerate(task.steps or []) if i not in done]


def reassign_task(
    session: Session,
    task_id: int,
    assignee: str,
    note: str | None,
    now: datetime,
    expected: int | None = None,
) -> Task:
    """Give an open task to `assignee` (the reason kept in its notes); unchanged when it
    is theirs already. Each reassignment makes earlier links to the task stop working.

    With `expected` (the assignment number a page was shown), TaskMovedError when it was
    reassigned since, unless to `assignee` by that very step (a double submit).
    """
    task = _open_task(session, task_id)
    double_submit = task.assignee == assignee and task.assignment == (expected or 0) + 1
    if expected is not None and task.assignment != expected and not double_submit:
        raise TaskMovedError(f"task {task_id} was reassigned to someone else meanwhile")
    if task.assignee == assignee:
        return task
    reason = (note or "").strip()
    record_event(task, "reassigned", now, text=reason, **{"from": task.assignee, "to": assignee})
    line = f"{now:%Y-%m-%d %H:%M} reassigned from {task.assignee} to {assignee}"
    task.note = _joined_note(task.note, f"{line}: {reason}" if reason else line)
    task.assignee = assignee
    task.assignment += 1
    return task


def snooze_task(
    session: Session, task_id: int, until: datetime, note: str | None, now: datetime
) -> Task:
    """Snooze an open task until `until` (out of digests, no escalation), the reason kept."""
    if until <= now:
        raise CxopsError(f"snooze until a time after now ({now:%Y-%m-%d %H:%M}); found {until}")
    task = _open_task(session, task_id)
    task.snoozed_seconds = snoozed_seconds(task, now)
    task.snoozed_at, task.snoozed_until = now, until
    reason = (note or "").strip()
    record_event(task, "snoozed", now, until=until.isoformat(), text=reason)
    line = f"{now:%Y-%m-%d %H:%M} snoozed until {until:%Y-%m-%d %H:%M}"
    task.note = _joined_note(task.note, f"{line}: {reason}" if reason else line)
    return task


def snoozed_seconds(task: Task, now: datetime) -> int:
    """All the time the task spent snoozed up to `now` (or its close)."""
    total = task.snoozed_seconds or 0
    if task.snoozed_at is not None and task.snoozed_until is not None:
        end = min(task.snoozed_until, task.closed_at or now, now)
        total += max(0, int((end - task.snoozed_at).total_seconds()))
    return total


def _open_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFoundError(f"no task {task_id}")
    if task.status != "open":
        raise TaskClosedError(f"task {task_id} is already {task.status}")
    return task


def _joined_note(old: str | None, new: str | None) -> str | None:
    new = (new or "").strip() or None
    if not new:
        return old
    return f"{old}\n{new}" if old else new


def set_escalation_step(session: Session, task_id: int, step: int) -> None:
    session.execute(
        update(Task)
        .where(Task.id == task_id, Task.escalation_step < step)
        .values(escalation_step=step)
    )
