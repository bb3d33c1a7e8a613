"""How the follow-up's pages word a task: column labels, numbers per language, events
as sentences with their zone, tasks from before events were kept."""

from __future__ import annotations

import pytest

from cxops.followup.pages.task_strings import task_strings
from cxops.followup.wording import event_lines, field_label, field_value, number_text


@pytest.mark.parametrize(
    ("column", "label"),
    [
        ("account_name", "Account name"),
        ("mrr", "MRR"),
        ("csm_email", "CSM email"),
        ("plan", "Plan"),
        ("renewal-date", "Renewal date"),
    ],
)
def test_a_column_becomes_a_label(column, label):
    assert field_label(column) == label


@pytest.mark.parametrize(
    ("value", "lang", "shown"),
    [
        (1625.0, "en", "1,625"),
        ("1625.0", "de", "1.625"),
        (1234567.891, "fr", "1\u202f234\u202f567,89"),
        ("0.5", "de", "0,5"),
        # Whole numbers are as often ids, codes and years: as they are.
        (1625, "en", None),
        ("00123", "en", None),
        ("pro", "en", None),
        (True, "en", None),
        (float("nan"), "en", None),
    ],
)
def test_decimals_are_written_as_the_language_writes_them(value, lang, shown):
    assert number_text(value, lang) == shown


def test_values_say_yes_and_no_in_the_page_language():
    words = task_strings("de")
    assert field_value(True, "de", words) == "ja"
    assert field_value(["a", 2.5], "de", words) == "a, 2,5"
    assert field_value("10115", "de", words) == "10115"


def test_events_are_sentences_with_the_time_in_the_zone():
    events = [
        {"kind": "note", "at": None, "text": "2026-11-20 08:00 reassigned from a to b"},
        {
            "kind": "reassigned",
            "at": "2026-12-07T03:14:00+00:00",
            "from": "anna@acme.example",
            "to": "bob@acme.example",
            "text": "Urlaub",
        },
        {"kind": "closed", "at": "2026-12-08T09:00:00+00:00", "outcome": "resolved"},
    ]
    assert event_lines(events, None, "Europe/Berlin", task_strings("de")) == [
        (None, "2026-11-20 08:00 reassigned from a to b"),
        (
            "2026-12-07 04:14 CET",
            "Übergeben von anna@acme.example an bob@acme.example: Urlaub",
        ),
        ("2026-12-08 10:00 CET", "Abgeschlossen: gelöst"),
    ]


def test_a_task_from_before_events_shows_its_note_as_it_was():
    assert event_lines(None, "called, no answer", "UTC", task_strings("fr")) == [
        (None, "called, no answer")
    ]
    assert event_lines(None, None, "UTC", task_strings("fr")) == []
