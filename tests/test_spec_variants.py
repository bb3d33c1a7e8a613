"""`invitation.variants`, `split` and `winner`: what validate says, at which line and column."""

from __future__ import annotations

import pytest

from cxops.spec import read_survey
from cxops.testing import Project
from tests.test_spec_broken import write_fixture_project

SURVEY = """\
id: subjects
name: Subject lines
kind: nps
audience:
  source: {csv: data/contacts.csv, key: id}
questions:
  - {id: score, type: nps, text: "How likely?"}
invitation:
  template: t_invite
  from: research@acme.example
  reminder: {after: 3d}
EXPERIMENT
"""


def problems(project: Project, experiment: str) -> list[str]:
    write_fixture_project(project)
    project.write({"surveys/s.yaml": SURVEY.replace("EXPERIMENT", experiment)})
    result = read_survey(project.path("surveys/s.yaml"), project.root)
    return [
        f"{p.location.line}:{p.location.column} {p.key_path}: {p.message}" for p in result.problems
    ]


GOOD = """\
  variants:
    - {id: plain, subject: "How are we doing?"}
    - {id: short, template: t_invite, subject: "One question", reminder: {after: 2d}}
    - {id: late, send_window: {from: "14:00", to: "16:00"}}
  split: {plain: 50, short: 25, late: 25}
"""


def test_variants_that_change_something_validate_and_resolve(empty_project: Project) -> None:
    assert problems(empty_project, GOOD) == []
    survey = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root).survey
    assert survey is not None
    invitation = survey.invitation
    assert invitation.weights() == {"plain": 0.5, "short": 0.25, "late": 0.25}
    short = survey.for_variant("short").invitation
    assert (short.subject, str(short.reminder.after if short.reminder else None)) == (
        "One question",
        "2d",
    )
    assert survey.for_variant("late").invitation.send_window is not None
    assert survey.for_variant(None) is survey
    assert survey.for_variant("plain").source_path == survey.source_path


def test_even_split_by_default_and_the_winner_alone(empty_project: Project) -> None:
    experiment = GOOD.replace("  split: {plain: 50, short: 25, late: 25}\n", "")
    assert problems(empty_project, experiment) == []
    survey = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root).survey
    assert survey is not None
    assert survey.invitation.weights() == pytest.approx(
        {"plain": 1 / 3, "short": 1 / 3, "late": 1 / 3}
    )
    assert problems(empty_project, experiment + "  winner: short\n") == []
    survey = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root).survey
    assert survey is not None and survey.invitation.weights() == {"short": 1.0}


@pytest.mark.parametrize(
    ("experiment", "expected"),
    [
        (
            "  variants:\n    - {id: a, subject: A}\n    - {id: a, subject: B}\n",
            "14:12 invitation.variants[1].id: expected each variant id once, found 'a' again",
        ),
        (
            "  variants:\n    - {id: a, subject: A}\n    - {id: b}\n",
            "14:7 invitation.variants[1]: variant 'b' changes nothing",
        ),
        (
            "  variants:\n    - {id: a, subject: A}\n    - {id: b, reminder: {after: 3d}}\n",
            "14:7 invitation.variants[1]: variant 'b' changes nothing",
        ),
        (
            "  variants:\n    - {id: a, subject: A}\n    - {id: b, template: t_nope}\n",
            "14:25 invitation.variants[1].template: no template named 't_nope'",
        ),
        (
            "  variants:\n    - {id: a, subject: A}\n  split: {a: 1, b: 1}\n",
            "14:17 invitation.split.b: expected one of the variants' ids (a), found 'b'",
        ),
        (
            "  variants:\n    - {id: a, subject: A}\n    - {id: b, subject: B}\n"
            "  split: {a: 1, b: 0}\n",
            "15:20 invitation.split.b: expected a positive weight for variant 'b', found 0",
        ),
        (
            "  variants:\n    - {id: a, subject: A}\n    - {id: b, subject: B}\n  split: {a: 1}\n",
            "15:3 invitation.split: expected a weight for every variant, found none for 'b'",
        ),
        (
            "  variants:\n    - {id: a, subject: A}\n  winner: c\n",
            "14:11 invitation.winner: expected one of the variants' ids (a), found 'c'",
        ),
        (
            "  winner: c\n",
            "12:11 invitation.winner: expected one of the variants' ids (there are no variants)",
        ),
        (
            "  variants:\n    - {id: a, subject: '{{ contact.nmae }}'}\n",
            "13:28 invitation.variants[0].subject: unknown contact field 'nmae'",
        ),
    ],
)
def test_problems_name_their_place(empty_project: Project, experiment: str, expected: str) -> None:
    found = problems(empty_project, experiment)
    assert any(line.startswith(expected) for line in found), found


def test_the_json_schema_knows_variants() -> None:
    import jsonschema
    import yaml

    from cxops.spec.schema import survey_json_schema

    document = yaml.safe_load(SURVEY.replace("EXPERIMENT", GOOD + "  winner: plain\n  seed: 7\n"))
    jsonschema.validate(document, survey_json_schema())
    document["invitation"]["variants"][0]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, survey_json_schema())


def test_validate_renders_each_variant_and_names_the_one_that_fails(
    empty_project: Project,
) -> None:
    from cxops.messages.sample_render import render_problems

    experiment = (
        "  variants:\n    - {id: a, subject: A}\n"
        "    - {id: b, subject: '{{ contact.name | nosuchfilter }}'}\n"
    )
    assert problems(empty_project, experiment) == []  # the names are right
    result = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root)
    assert result.survey is not None and result.document is not None
    settings = empty_project.settings()
    [problem] = render_problems(result.survey, result.document, settings)
    assert (problem.location.line, problem.key_path) == (14, "invitation.variants[1]")
    assert "of variant 'b'" in problem.message
