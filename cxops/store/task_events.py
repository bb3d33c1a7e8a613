"""What happened to a task, as events a page can say in any language: its kind, its
time (UTC) and its values, never a sentence. `tasks.note` keeps the English lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from cxops.store.models import Task

EventKind = Literal["note", "closed", "reassigned", "snoozed"]
#: The values each kind carries (besides `kind` and `at`).
EVENT_KINDS: dict[str, tuple[str, ...]] = {
    "note": ("text",),
    "closed": ("outcome", "text"),
    "reassigned": ("from", "to", "text"),
    "snoozed": ("until", "text"),
}


def record_event(task: Task, kind: EventKind, now: datetime, **values: str | None) -> None:
    """Append an event to `task.events` (a new list: the JSON column sees the change).

    The first event of a task from before events were kept carries its old note along,
    as an event without a time.
    """
    events: list[dict[str, Any]] = list(task.events or [])
    if task.events is None and task.note:
        events.append({"kind": "note", "at": None, "text": task.note})
    unknown = set(values) - set(EVENT_KINDS[kind])
    if unknown:
        raise ValueError(f"a {kind} event has no {', '.join(sorted(unknown))}")
    event: dict[str, Any] = {"kind": kind, "at": now.isoformat()}
    event.update({name: value for name, value in values.items() if value})
    events.append(event)
    task.events = events
