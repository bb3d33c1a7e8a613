"""`invitation.send_window` in the survey format: what validate says, at which line and column."""

from __future__ import annotations

from datetime import time

import pytest

from cxops.spec import read_survey
from cxops.spec.models import Survey
from cxops.spec.schema import survey_json_schema
from cxops.testing import Project
from cxops.wave.minimise import kept_columns
from tests.test_spec_broken import write_fixture_project

SURVEY = """\
id: global
name: Global NPS
kind: nps
schedule: {cron: "0 9 * * 1", timezone: Europe/Berlin}
audience:
  source: {csv: data/contacts.csv, key: id}
questions:
  - {id: score, type: nps, text: "How likely?"}
invitation:
  template: t_invite
  from: research@acme.example
  send_window: WINDOW
"""


def problems(project: Project, window: str) -> list[str]:
    write_fixture_project(project)
    project.write(
        {
            "data/contacts.csv": "id,email,timezone\n1,a@b.example,Asia/Tokyo\n",
            "surveys/s.yaml": SURVEY.replace("WINDOW", window),
        }
    )
    result = read_survey(project.path("surveys/s.yaml"), project.root)
    return [
        f"{p.location.line}:{p.location.column} {p.key_path}: {p.message}" for p in result.problems
    ]


def test_a_window_over_the_contacts_zone_validates(empty_project: Project) -> None:
    window = '{from: "09:00", to: "11:00", days: weekdays, timezone: contact.timezone}'
    assert problems(empty_project, window) == []
    survey = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root).survey
    assert survey is not None
    sw = survey.invitation.send_window
    assert sw is not None
    assert (sw.from_, sw.to, sw.weekdays) == (time(9), time(11), frozenset(range(5)))
    assert (sw.zone, sw.expression) == (None, "contact.timezone")


@pytest.mark.parametrize(
    ("window", "zone", "expression"),
    [
        ('{from: "09:00", to: "11:00", timezone: Asia/Tokyo}', "Asia/Tokyo", None),
        ('{from: "09:00", to: "11:00", timezone: UTC}', "UTC", None),
        ('{from: "09:00", to: "11:00", timezone: Etc/GMT+5}', "Etc/GMT+5", None),
        ('{from: "09:00", to: "11:00", timezone: "\'Asia/Tokyo\'"}', "Asia/Tokyo", None),
        ('{from: "09:00", to: "11:00", days: [sat, sun]}', None, None),
        (
            '{from: "09:00", to: "11:00", timezone: "contact.timezone or \'UTC\'"}',
            None,
            "contact.timezone or 'UTC'",
        ),
    ],
)
def test_a_zone_written_as_is_or_an_expression(
    empty_project: Project, window: str, zone: str | None, expression: str | None
) -> None:
    assert problems(empty_project, window) == []
    survey = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root).survey
    assert survey is not None and survey.invitation.send_window is not None
    assert survey.invitation.send_window.zone == zone
    assert survey.invitation.send_window.expression == expression


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            '{from: "9am", to: "11:00"}',
            '12:23 invitation.send_window.from: expected a time "HH:MM" from "00:00" '
            "to \"23:59\", found '9am'",
        ),
        (
            '{from: "09:00", to: "24:00"}',
            '12:36 invitation.send_window.to: expected a time "HH:MM"',
        ),
        (
            '{from: "09:00", to: 10:30}',
            '12:36 invitation.send_window.to: expected a time like "09:00" in quotes, found 630 '
            '(YAML reads 10:30 without quotes as a number: write "10:30")',
        ),
        (
            '{from: "11:00", to: "09:00"}',
            "12:36 invitation.send_window.to: expected a time after from (11:00) on the same day, "
            'found "09:00"',
        ),
        (
            '{from: "09:00", to: "09:00"}',
            "12:36 invitation.send_window.to: expected a time after from (09:00)",
        ),
        (
            '{from: "09:00", to: "11:00", days: workdays}',
            "12:51 invitation.send_window.days: expected weekdays, all or a list of mon … sun, "
            "found 'workdays'",
        ),
        (
            '{from: "09:00", to: "11:00", days: [mon, thurs]}',
            "12:45 invitation.send_window.days: expected days mon … sun, found 'thurs' "
            "(did you mean 'thu'?)",
        ),
        (
            '{from: "09:00", to: "11:00", days: [mon, mon]}',
            "12:45 invitation.send_window.days: expected each day once, found 'mon' again",
        ),
        (
            '{from: "09:00", to: "11:00", days: []}',
            "12:45 invitation.send_window.days: expected at least one day",
        ),
        (
            '{from: "09:00", to: "11:00", timezone: Europe/Berln}',
            "12:55 invitation.send_window.timezone: expected an IANA time zone like "
            "'Europe/Berlin' or an expression over contact, found 'Europe/Berln' "
            "(did you mean 'Europe/Berlin'?)",
        ),
        (
            '{from: "09:00", to: "11:00", timezone: localtime}',
            "12:55 invitation.send_window.timezone: expected an IANA time zone",
        ),
        (
            '{from: "09:00", to: "11:00", timezone: "\'CEST\'"}',
            "12:55 invitation.send_window.timezone: expected an IANA time zone",
        ),
        (
            '{from: "09:00", to: "11:00", timezone: "contact.timezone +"}',
            "12:55 invitation.send_window.timezone: invalid expression",
        ),
        (
            '{from: "09:00", to: "11:00", timezone: contact.timzone}',
            "12:55 invitation.send_window.timezone: unknown contact field 'timzone' (did you "
            "mean 'timezone'?); expected a column of the source: email, id, timezone",
        ),
        (
            '{from: "09:00", to: "11:00", timezone: "answers.tz"}',
            "12:56 invitation.send_window.timezone: unknown name 'answers'",
        ),
        (
            '{from: "09:00", to: "11:00", at: "10:00"}',
            "12:45 invitation.send_window.at:",
        ),
        ('{to: "11:00"}', "12:3 invitation.send_window.from: expected the required key 'from'"),
    ],
)
def test_a_bad_window_is_one_problem_at_its_place(
    empty_project: Project, window: str, expected: str
) -> None:
    found = problems(empty_project, window)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_the_schema_describes_the_window() -> None:
    definitions = survey_json_schema()["$defs"]
    assert definitions["Invitation"]["properties"]["send_window"]["anyOf"][0] == {
        "$ref": "#/$defs/SendWindow"
    }
    window = definitions["SendWindow"]
    assert window["required"] == ["from", "to"]
    assert window["properties"]["from"]["pattern"] == window["properties"]["to"]["pattern"]
    assert window["additionalProperties"] is False


def test_the_ledger_keeps_the_column_the_window_reads(project: Project) -> None:
    survey = Survey.model_validate(
        {
            "id": "nps",
            "name": "NPS",
            "kind": "nps",
            "audience": {"source": {"csv": "data/customers.csv", "key": "id"}},
            "questions": [{"id": "score", "type": "nps", "text": "How likely?"}],
            "invitation": {
                "template": "nps_invite",
                "from": "r@acme.example",
                "send_window": {"from": "09:00", "to": "11:00", "timezone": "contact.timezone"},
            },
        }
    )
    kept = kept_columns(survey, project.settings())
    assert kept is not None and "timezone" in kept
    without = survey.model_copy(
        update={"invitation": survey.invitation.model_copy(update={"send_window": None})}
    )
    kept_without = kept_columns(without, project.settings())
    assert kept_without is not None and "timezone" not in kept_without
