"""What happened to a task is kept as events (kind, UTC time, values), never sentences;
a task from before events were kept carries its old note into its first event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxops.store.models import Task
from cxops.store.task_events import record_event

NOW = datetime(2026, 12, 7, 3, 14, tzinfo=UTC)


def test_events_hold_values_not_sentences():
    task = Task(note=None, events=None)
    record_event(task, "reassigned", NOW, text="", **{"from": "a@x.example", "to": "b@x.example"})
    record_event(task, "note", NOW, text="called")
    assert task.events == [
        {
            "kind": "reassigned",
            "at": "2026-12-07T03:14:00+00:00",
            "from": "a@x.example",
            "to": "b@x.example",
        },
        {"kind": "note", "at": "2026-12-07T03:14:00+00:00", "text": "called"},
    ]


def test_an_older_task_keeps_its_note_as_its_first_event():
    task = Task(note="2026-11-20 08:00 snoozed until 2026-11-25 00:00", events=None)
    record_event(task, "closed", NOW, outcome="resolved")
    assert task.events == [
        {"kind": "note", "at": None, "text": "2026-11-20 08:00 snoozed until 2026-11-25 00:00"},
        {"kind": "closed", "at": "2026-12-07T03:14:00+00:00", "outcome": "resolved"},
    ]


def test_a_value_the_kind_does_not_have_is_refused():
    with pytest.raises(ValueError, match="a note event has no until"):
        record_event(Task(events=[]), "note", NOW, until="2026-12-08")
