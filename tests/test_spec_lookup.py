"""One survey lookup for every command: a path or an id, an unknown survey named, an
ambiguous id refused (never the first file by name)."""

from __future__ import annotations

import pytest

from cxops.errors import AmbiguousSurveyError, NotFoundError
from cxops.spec.lookup import find_survey, project_surveys
from cxops.testing import Project


def test_a_survey_by_id_or_by_path(project: Project) -> None:
    folder = project.path("surveys")
    by_id = find_survey("nps-quarterly", folder, project.root)
    by_path = find_survey(folder / "nps-quarterly.yaml", folder, project.root)
    assert by_id.id == by_path.id == "nps-quarterly"
    assert by_id.source_path == by_path.source_path == folder / "nps-quarterly.yaml"


def test_an_unknown_survey_names_itself_and_the_ids_there(project: Project) -> None:
    with pytest.raises(NotFoundError, match=r"no survey with id 'no-such'.*nps-quarterly"):
        find_survey("no-such", project.path("surveys"), project.root)
    with pytest.raises(NotFoundError, match=r"no survey file surveys/missing\.yaml"):
        find_survey("surveys/missing.yaml", project.path("surveys"), project.root)


def copy_with_same_id(project: Project) -> None:
    text = project.path("surveys/nps-quarterly.yaml").read_text(encoding="utf-8")
    project.write({"surveys/a-copy.yaml": text})


def test_an_id_in_two_files_is_refused_not_guessed(project: Project) -> None:
    copy_with_same_id(project)
    with pytest.raises(AmbiguousSurveyError) as raised:
        find_survey("nps-quarterly", project.path("surveys"), project.root)
    assert "a-copy.yaml" in str(raised.value) and "nps-quarterly.yaml" in str(raised.value)
    # A path still names one file.
    assert find_survey("surveys/a-copy.yaml", project.path("surveys"), project.root).id == (
        "nps-quarterly"
    )


def test_project_surveys_skip_broken_and_ambiguous_files(project: Project) -> None:
    copy_with_same_id(project)
    project.write({"surveys/broken.yaml": "id: broken\nname: [\n"})
    found = project_surveys(project.path("surveys"), project.root)
    assert "nps-quarterly" not in found.surveys
    assert {"ces-onboarding", "csat-support"} <= set(found.surveys)
    skipped = {path.rsplit("/", 1)[-1]: why for path, why in found.skipped.items()}
    assert set(skipped) == {"a-copy.yaml", "nps-quarterly.yaml", "broken.yaml"}
    assert "is used by 2 files" in skipped["a-copy.yaml"]


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "nps-quarterly"],
        ["export", "tasks", "nps-quarterly"],
        ["export", "responses", "nps-quarterly"],
        ["tasks", "--survey", "nps-quarterly"],
    ],
)
def test_every_command_refuses_an_ambiguous_id_in_one_line(project: Project, args) -> None:
    copy_with_same_id(project)
    result = project.run(args, expect_pass=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert "survey id 'nps-quarterly' is used by 2 files" in line


@pytest.mark.parametrize("command", [["export", "tasks"], ["export", "responses"]])
def test_exports_name_an_unknown_survey_and_take_a_path(project: Project, command) -> None:
    unknown = project.run([*command, "no-such-survey"], expect_pass=False)
    assert unknown.exit_code == 1 and "no survey with id 'no-such-survey'" in unknown.stderr
    by_path = project.run([*command, "surveys/nps-quarterly.yaml", "--format", "jsonl"])
    assert by_path.exit_code == 0 and by_path.stdout == ""  # no answers, no tasks yet
    missing = project.run([*command, "surveys/x.yaml"], expect_pass=False)
    assert "no survey file surveys/x.yaml" in missing.stderr


@pytest.mark.parametrize("command", [["export", "tasks"], ["export", "responses"]])
def test_exports_refuse_a_bad_format_the_same_way(project: Project, command) -> None:
    result = project.run([*command, "nps-quarterly", "--format", "xlsx"], expect_pass=False)
    assert result.exit_code == 2
    assert "Invalid value for --format: expected csv or jsonl, found 'xlsx'" in result.output
