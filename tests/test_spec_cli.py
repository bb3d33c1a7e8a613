"""`cxops validate` and `cxops schema` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from cxops.testing import Project
from tests.test_spec_broken import BROKEN, write_fixture_project

EXAMPLES = ["ces-onboarding", "csat-support", "interviews-power-users", "nps-quarterly"]


def test_example_surveys_validate_clean(project: Project) -> None:
    result = project.run(["validate"])

    assert result.stdout.strip() == "4 surveys OK"
    assert sorted(p.stem for p in project.path("surveys").glob("*.yaml")) == EXAMPLES


def test_example_surveys_validate_as_json(project: Project) -> None:
    result = project.run(["validate", "--json", "surveys"])

    assert result.json == []


def test_reports_all_errors_of_all_files_sorted(empty_project: Project) -> None:
    write_fixture_project(empty_project)
    base = (BROKEN / "unknown_key_suggestion.yaml").read_text(encoding="utf-8")
    fixed = base.replace("scheduel:", "schedule:")
    two_errors = fixed.replace("size: 100", "size: many").replace("Europe/Berlin", "Mars/Base")
    empty_project.write(
        {
            "surveys/b.yaml": two_errors.replace("id: broken-x", "id: broken-b"),
            "surveys/a.yaml": base.replace("id: broken-x", "id: broken-a"),
        }
    )

    result = empty_project.run(["validate"], expect_pass=False)

    assert result.exit_code == 1
    locations = [line.split(": ")[0] for line in result.stdout.splitlines() if ".yaml:" in line]
    assert locations == [
        "surveys/a.yaml:6:1",
        "surveys/b.yaml:8:13",
        "surveys/b.yaml:18:11",
    ]
    assert "surveys/b.yaml:18:11: audience.sample.size: expected a valid integer" in result.stdout
    assert "        size: many\n              ^" in result.stdout
    assert "3 problems in 2 of 2 files" in result.stderr


def test_json_output_shape(empty_project: Project) -> None:
    write_fixture_project(empty_project)
    empty_project.write({"surveys/bad.yaml": (BROKEN / "bad_cron.yaml").read_text()})

    result = empty_project.run(["validate", "--json", "surveys/bad.yaml"], expect_pass=False)

    assert result.json == [
        {
            "file": "surveys/bad.yaml",
            "line": 7,
            "column": 9,
            "key_path": "schedule.cron",
            "message": "expected field 5, the day of week, to be 0-7 (0 and 7 are Sunday) or "
            "SUN-SAT (values, ranges 1-5, lists 1,3, steps */3 or *), found 'MONDAY'",
        }
    ]


def test_duplicate_survey_ids_across_files(empty_project: Project) -> None:
    write_fixture_project(empty_project)
    base = (BROKEN / "unknown_key_suggestion.yaml").read_text().replace("scheduel:", "schedule:")
    empty_project.write({"surveys/one.yaml": base, "other/two.yaml": base})

    result = empty_project.run(
        ["validate", "--json", "surveys", "other/two.yaml"], expect_pass=False
    )

    [problem] = result.json
    assert (problem["file"], problem["line"], problem["column"]) == ("other/two.yaml", 2, 5)
    assert "'broken-x' already used in" in problem["message"]
    assert "one.yaml" in problem["message"]


def test_missing_path_and_empty_folder_are_errors(empty_project: Project) -> None:
    empty_project.path("surveys").mkdir()

    result = empty_project.run(["validate", "--json", "surveys", "nope.yaml"], expect_pass=False)

    assert [(p["file"], p["message"]) for p in result.json] == [
        ("nope.yaml", "no such file or folder"),
        ("surveys", "expected survey files (*.yaml), found none"),
    ]


def test_relative_source_paths_resolve_against_the_project_dir(
    empty_project: Project, tmp_path
) -> None:
    write_fixture_project(empty_project)
    survey = (BROKEN / "unknown_contact_column.yaml").read_text()
    empty_project.write({"surveys/s.yaml": survey})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = empty_project.run(
        [
            "validate",
            "--json",
            "--project-dir",
            str(empty_project.root),
            str(empty_project.root / "surveys"),
        ],
        cwd=elsewhere,
        expect_pass=False,
    )

    [problem] = result.json
    assert "unknown contact field 'seat'" in problem["message"]


def test_validate_imports_neither_prefect_sqlalchemy_matplotlib_nor_analysis(
    project: Project,
) -> None:
    code = textwrap.dedent(
        """
        import sys
        from cxops.cli import main
        try:
            main(["validate", "surveys"])
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"prefect", "sqlalchemy", "matplotlib"})
        heavy += sorted(m for m in sys.modules if m.startswith("cxops.analysis"))
        print("HEAVY", heavy, "EXIT", code)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project.root, capture_output=True, text=True, check=False
    )

    assert "HEAVY [] EXIT" in result.stdout, result.stdout + result.stderr
    assert "surveys OK" in result.stdout or "problem" in result.stderr
    assert not project.path("cxops.db").exists()


def test_schema_command_prints_the_generated_schema(empty_project: Project) -> None:
    from cxops.spec.schema import survey_json_schema

    result = empty_project.run(["schema"])

    assert json.loads(result.stdout) == survey_json_schema()

    empty_project.run(["schema", "--out", "survey.schema.json"])
    assert json.loads(empty_project.path("survey.schema.json").read_text()) == survey_json_schema()


def test_validate_renders_the_templates_a_survey_names_as_run_would(project: Project) -> None:
    """A custom survey with the NPS template validated, and `run` failed on `question.text`."""
    nps = project.path("surveys/nps-quarterly.yaml").read_text(encoding="utf-8")
    custom = (
        nps.replace("id: nps-quarterly", "id: custom-pulse")
        .replace("kind: nps", "kind: custom")
        .replace("type: nps", "type: rating")
    )
    assert "template: nps_invite" in custom and "kind: custom" in custom
    project.write({"surveys/custom.yaml": custom})

    result = project.run(["validate"], expect_pass=False)

    assert result.exit_code == 1
    problems = [line for line in result.stdout.splitlines() if ".yaml:" in line]
    assert len(problems) == 1, result.stdout
    assert problems[0].startswith("surveys/custom.yaml:")
    assert ": invitation.template: cannot render the invitation in locale 'en'" in problems[0]
    assert "template 'nps_invite.html.j2' line 13" in problems[0]
    assert "'None' has no attribute 'text'" in problems[0]
    assert "1 problem in 1 of 5 files" in result.stderr


def test_an_sql_source_renders_with_values_typed_by_its_columns(empty_project: Project) -> None:
    """validate opens no database: an SQL source's sample contact is typed by `columns:`."""
    from cxops.messages.sample_render import render_problems
    from cxops.spec.loader import read_survey

    write_fixture_project(empty_project)
    survey = (BROKEN / "unknown_key_suggestion.yaml").read_text(encoding="utf-8")
    survey = survey.replace("scheduel:", "schedule:").replace(
        "    csv: data/contacts.csv\n",
        "    sql: SELECT * FROM people\n    url: sqlite:///nowhere.db\n",
    )
    empty_project.write(
        {
            "surveys/s.yaml": survey,
            "templates/t_invite.txt.j2": "{{ contact.seats + 1 }} seats, {{ contact.name }}",
        }
    )
    result = read_survey(empty_project.path("surveys/s.yaml"), empty_project.root)
    assert result.survey is not None, result.problems
    settings = empty_project.settings()

    assert render_problems(result.survey, result.document, settings) == []

    empty_project.write({"templates/t_invite.txt.j2": "{{ contact.seats.upper() }}"})
    [problem] = render_problems(result.survey, result.document, settings)
    assert problem.key_path == "invitation.template"
    assert "a sample contact typed by the source's columns" in problem.message
    assert "template 't_invite.txt.j2' line 1" in problem.message
    assert not empty_project.path("nowhere.db").exists()
