"""The `trigger:` block of the survey format: what validate says, at which line and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cxops.spec import read_survey
from cxops.spec.trigger import EventSource
from cxops.testing import Project
from tests.test_spec_broken import write_fixture_project

DATA = Path(__file__).parent / "data"

SURVEY = """\
id: moments
name: Moments
kind: csat
trigger:
  event: ticket.solved
  delay: DELAY
  contact:
    key: "event.data.requester.id"
    email: "event.data.requester.email"
    ticket_id: "event.data.ticket.id"
    seats: "event.data.seats"
  dedupe: "DEDUPE"
audience:
  source:
    columns: {ticket_id: str, seats: int}
  filter: "contact.seats > 1"
questions:
  - {id: csat, type: csat, text: "Ticket {{ contact.ticket_id }}?"}
invitation:
  template: t_invite
  from: research@acme.example
"""


def problems(project: Project, text: str) -> list[str]:
    write_fixture_project(project)
    project.write({"surveys/s.yaml": text})
    result = read_survey(project.path("surveys/s.yaml"), project.root)
    return [
        f"{p.location.line}:{p.location.column} {p.key_path}: {p.message}" for p in result.problems
    ]


def survey_text(delay: str = "1 business day", dedupe: str = "event.data.ticket.id") -> str:
    return SURVEY.replace("DELAY", delay).replace("DEDUPE", dedupe)


def test_a_trigger_with_an_event_only_source_validates_and_is_triggered(
    empty_project: Project,
) -> None:
    assert problems(empty_project, survey_text()) == []
    survey = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root).survey
    assert survey is not None and survey.trigger is not None
    assert survey.triggered is True
    assert isinstance(survey.audience.source, EventSource)
    assert str(survey.trigger.delay_duration) == "1 business day"


def test_a_scheduled_survey_is_not_triggered(empty_project: Project) -> None:
    text = survey_text().split("trigger:")[0] + 'schedule: {cron: "0 9 * * 1"}\n'
    text += "audience:\n  source: {csv: data/contacts.csv, key: id}\n"
    text += survey_text().split('  filter: "contact.seats > 1"\n')[1]
    text = text.replace("contact.ticket_id", "contact.plan")
    assert problems(empty_project, text) == []
    survey = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root).survey
    assert survey is not None and survey.triggered is False


def test_the_shared_example_validates(empty_project: Project) -> None:
    shutil.copy(DATA / "csat-ticket-solved.yaml", empty_project.root / "s.yaml")
    result = read_survey(empty_project.root / "s.yaml", empty_project.root)
    assert [str(p) for p in result.problems] == []
    assert result.survey is not None and result.survey.triggered


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('    key: "event.data.requester.id"\n', ""),
            "7:3 trigger.contact: expected the contact mapping to give 'key'",
        ),
        (
            ('    email: "event.data.requester.email"\n', ""),
            "7:3 trigger.contact: expected the contact mapping to give 'email'",
        ),
        (
            ('    seats: "event.data.seats"\n', ""),
            "14:38 audience.source.columns.seats: expected trigger.contact to give the column "
            "'seats'",
        ),
        (
            ('"event.data.ticket.id"\n    seats', '"ticket.id"\n    seats'),
            "10:17 trigger.contact.ticket_id: unknown name 'ticket'",
        ),
        (
            ("event.data.seats", "event.payload.seats"),
            "11:19 trigger.contact.seats: unknown event field 'payload'",
        ),
        (
            ("DEDUPE", "event.data.ticket.id +"),
            "12:11 trigger.dedupe:",
        ),
        (("DELAY", "soon"), "6:10 trigger.delay:"),
        (
            ('  filter: "contact.seats > 1"', '  filter: "contact.seat > 1"'),
            "16:12 audience.filter: unknown contact field 'seat' (did you mean 'seats'?)",
        ),
        (("event: ticket.solved", "event: 'ticket solved'"), "5:10 trigger.event:"),
    ],
)
def test_trigger_problems_are_located(
    empty_project: Project, change: tuple[str, str], expected: str
) -> None:
    text = SURVEY.replace(*change).replace("DELAY", "1d").replace("DEDUPE", "event.data.ticket.id")
    found = problems(empty_project, text)
    assert any(p.startswith(expected) for p in found), found


def test_an_event_only_source_without_a_trigger_is_an_error(empty_project: Project) -> None:
    text = survey_text().replace("trigger:", "old_trigger:", 1)
    text = text.split("old_trigger:")[0] + "audience:" + text.split("audience:")[1]
    found = problems(empty_project, text)
    assert any("needs a 'trigger:'" in p for p in found), found


def test_the_contact_policy_sees_a_triggered_survey(empty_project: Project) -> None:
    from cxops.policy.survey import survey_facts

    shutil.copy(DATA / "csat-ticket-solved.yaml", empty_project.root / "s.yaml")
    survey = read_survey(empty_project.root / "s.yaml", empty_project.root).survey
    assert survey is not None
    assert survey_facts(survey)["triggered"] is True
