"""load_survey / load_surveys / find_survey and the cross-field checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxops.errors import NotFoundError, SurveyError
from cxops.spec import find_survey, load_survey, load_surveys, read_survey
from cxops.testing import Project
from tests.test_spec_broken import BROKEN, write_fixture_project

BASE = (BROKEN / "unknown_key_suggestion.yaml").read_text().replace("scheduel:", "schedule:")


def messages(project: Project, text: str) -> list[str]:
    project.write({"surveys/s.yaml": text})
    result = read_survey(project.path("surveys/s.yaml"), project.root)
    return [
        f"{p.location.line}:{p.location.column} {p.key_path}: {p.message}" for p in result.problems
    ]


@pytest.fixture
def fixture_project(empty_project: Project) -> Project:
    write_fixture_project(empty_project)
    return empty_project


def test_load_survey_returns_a_frozen_model_with_its_path(fixture_project: Project) -> None:
    fixture_project.write({"surveys/s.yaml": BASE})

    survey = load_survey(fixture_project.path("surveys/s.yaml"), fixture_project.root)

    assert survey.id == "broken-x"
    assert survey.source_path == fixture_project.path("surveys/s.yaml")
    assert survey.audience.source.csv == "data/contacts.csv"


def test_load_survey_raises_every_problem_sorted(fixture_project: Project) -> None:
    text = BASE.replace("size: 100", "size: -1").replace("kind: nps", "kind: npx")
    text = text.replace("timezone: Europe/Berlin", "timezone: Europe/Berlin\n  extra: 1")
    fixture_project.write({"surveys/s.yaml": text})

    with pytest.raises(SurveyError) as caught:
        load_survey(fixture_project.path("surveys/s.yaml"), fixture_project.root)

    assert [(p.location.line, p.key_path) for p in caught.value.problems] == [
        (4, "kind"),
        (9, "schedule.extra"),
        (19, "audience.sample.size"),
    ]
    assert "expected 'nps', 'csat', 'ces', 'custom' or 'interview', found 'npx'" in str(
        caught.value
    )
    assert "expected greater than 0, found -1" in str(caught.value)


def test_load_survey_checks_against_the_project_dir_given(
    fixture_project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Never the ambient settings': the current folder and CXOPS_PROJECT_DIR are elsewhere."""
    fixture_project.write({"surveys/s.yaml": BASE.replace("contact.seats >= 5", "contact.x")})
    monkeypatch.setenv("CXOPS_PROJECT_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)

    with pytest.raises(SurveyError, match="unknown contact field 'x'"):
        load_survey(fixture_project.path("surveys/s.yaml"), fixture_project.root)


def test_load_surveys_checks_ids_across_files(fixture_project: Project) -> None:
    fixture_project.write({"surveys/a.yaml": BASE, "surveys/b.yml": BASE, "surveys/c.txt": "x"})

    with pytest.raises(SurveyError) as caught:
        load_surveys(fixture_project.path("surveys"), fixture_project.root)

    [problem] = caught.value.problems
    assert problem.location.path.name == "b.yml"
    assert "already used in" in problem.message and "a.yaml" in problem.message


def test_find_survey_by_id_skips_broken_unrelated_files(fixture_project: Project) -> None:
    other = BASE.replace("id: broken-x", "id: other")
    fixture_project.write({"surveys/a.yaml": "a: [", "surveys/b.yaml": other})
    folder = fixture_project.path("surveys")

    survey = find_survey("other", folder, fixture_project.root)

    assert survey.id == "other"
    assert find_survey(str(folder / "b.yaml"), folder, fixture_project.root).id == "other"
    with pytest.raises(NotFoundError):
        find_survey("missing", folder, fixture_project.root)
    with pytest.raises(NotFoundError):
        find_survey("nope.yaml", folder, fixture_project.root)
    with pytest.raises(SurveyError):
        find_survey(str(folder / "a.yaml"), folder, fixture_project.root)


def test_union_tags_are_not_taken_for_keys(fixture_project: Project) -> None:
    """`loc` holds tags like 'csv' and 'text' that are also keys of the data."""
    text = BASE.replace("    csv: data/contacts.csv\n", "    csv: data/contacts.csv\n    text: 1\n")

    assert messages(fixture_project, text) == [
        "12:5 audience.source.text: unknown key 'text': expected one of key, email, columns, csv"
    ]


def test_rating_label_keys(fixture_project: Project) -> None:
    text = BASE.replace(
        "    required: false\n",
        "    required: false\n  - id: r\n    type: rating\n    text: R\n    labels: {one: Bad}\n",
    )

    assert messages(fixture_project, text) == [
        "31:14 questions[2].labels.one: expected a valid integer, unable to parse string as "
        "an integer, found 'one'"
    ]


def test_survey_rules_point_at_kind(fixture_project: Project) -> None:
    text = BASE.replace("kind: nps", "kind: interview")

    assert messages(fixture_project, text) == [
        "4:1 kind: kind 'interview' needs an 'interview' section"
    ]


# -- checks -------------------------------------------------------------------------------


def test_csv_header_with_bom_and_semicolons(fixture_project: Project) -> None:
    fixture_project.write(
        {"data/contacts.csv": "\ufeffid;email;name;plan;seats;region\n1;a@b.example;A;t;5;eu\n"}
    )

    assert messages(fixture_project, BASE) == []
    assert messages(fixture_project, BASE.replace("contact.name", "contact.nme")) == [
        "34:20 followup[0].task: unknown contact field 'nme' (did you mean 'name'?); "
        "expected a column of the source: email, id, name, plan, region, seats"
    ]


def test_unreadable_source_skips_column_checks(fixture_project: Project) -> None:
    text = BASE.replace("data/contacts.csv", "data/absent.csv").replace("contact.name", "contact.x")

    assert messages(fixture_project, text) == []


def test_sql_source_is_never_opened(fixture_project: Project) -> None:
    text = BASE.replace(
        "    csv: data/contacts.csv\n",
        "    sql: select * from contacts\n    url: postgresql://nowhere.invalid/db\n",
    ).replace("contact.name", "contact.anything")

    assert messages(fixture_project, text) == []


def test_parquet_columns_are_read_from_the_schema(fixture_project: Project) -> None:
    import pyarrow as pa  # the dev extra installs it: this test must run, never skip
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": [1],
            "email": ["a@b.example"],
            "name": ["A"],
            "seats": [3],
            "plan": ["t"],
            "region": ["eu"],
        }
    )
    pq.write_table(table, fixture_project.path("data/contacts.parquet"))
    text = BASE.replace("csv: data/contacts.csv", "parquet: data/contacts.parquet")

    assert messages(fixture_project, text) == []
    assert messages(fixture_project, text.replace("contact.name", "contact.nam"))[0].startswith(
        "34:20 followup[0].task: unknown contact field 'nam'"
    )


def test_locale_falls_back_to_its_language(fixture_project: Project) -> None:
    text = BASE.replace("[en, de]", "[en, de-AT]")

    assert messages(fixture_project, text) == []
    assert messages(fixture_project, BASE.replace("[en, de]", "[en, pt-BR]")) == [
        "31:17 invitation.locales[1]: expected templates for locale 'pt-BR': "
        "t_invite.pt-BR.subject.j2, t_invite.pt-BR.html.j2, t_invite.pt-BR.txt.j2 "
        "(or the pt variant) in the project's templates/ or the built-in templates, found none"
    ]


def test_a_subject_override_needs_no_subject_template(fixture_project: Project) -> None:
    fixture_project.path("templates/t_invite.de.subject.j2").unlink()
    text = BASE.replace("  locales:", '  subject: "Hi {{ contact.name }}"\n  locales:')

    assert messages(fixture_project, BASE)[0].startswith(
        "31:17 invitation.locales[1]: expected templates for locale 'de': t_invite.de.subject.j2 "
    )
    assert messages(fixture_project, text) == []


def test_default_locale_missing_points_at_the_template(fixture_project: Project) -> None:
    text = BASE.replace("  locales: [en, de]\n", "").replace("t_invite", "other_invite")

    assert messages(fixture_project, text) == [
        "29:13 invitation.template: no template named 'other_invite' (did you mean 't_invite'?): "
        "expected other_invite.subject.j2, other_invite.html.j2, other_invite.txt.j2 (and a "
        "variant per locale) in the project's templates/ or the built-in templates"
    ]


def test_a_template_name_that_does_not_exist_is_one_problem_at_template(
    fixture_project: Project,
) -> None:
    """Not one per locale at `locales:`, and with the name it was probably meant to be."""
    text = BASE.replace("[en, de]", "[en, de, fr]").replace(
        "template: t_invite", "template: nps_invte"
    )

    found = messages(fixture_project, text)

    assert len(found) == 1, found
    assert found[0].startswith(
        "29:13 invitation.template: no template named 'nps_invte' (did you mean 'nps_invite'?)"
    )


def test_interview_answers_and_names_per_field(fixture_project: Project) -> None:
    text = BASE.replace("kind: nps", "kind: interview").replace(
        "questions:\n",
        "interview: {goal: 2, batch: 5, duration: 30m, booking_url: 'https://b.example',"
        " consent: ok}\nquestions:\n",
    )
    text = text.replace('"answers.score <= 6"', '"answers.accepted and answers.consent"')

    assert messages(fixture_project, text) == []
    questions_see_no_answers = text.replace('"Why?"', '"Why {{ answers.score }}?"')
    assert messages(fixture_project, questions_see_no_answers) == [
        "27:19 questions[1].text: unknown name 'answers'; expected one of contact, survey "
        "or a helper"
    ]


def test_survey_fields_and_helpers_in_expressions(fixture_project: Project) -> None:
    ok = BASE.replace('"contact.seats >= 5"', '"survey.id and days_since(contact.seats) > 1"')
    bad = BASE.replace('"contact.seats >= 5"', '"survey.nmae == 1"')

    assert messages(fixture_project, ok) == []
    assert messages(fixture_project, bad)[0].startswith(
        "14:12 audience.filter: unknown survey field 'nmae' (did you mean 'name'?)"
    )


def test_followup_checks(fixture_project: Project) -> None:
    text = BASE.replace("    context: [plan, region]\n", "    id: call\n").replace(
        "themes:", "  - id: call\n    when: 'true'\n    task: t\n    due: 1d\nthemes:"
    )

    assert messages(fixture_project, text) == [
        "37:9 followup[1].id: expected follow-up rule ids unique in the survey, found 'call' again"
    ]


def test_stratify_by_a_real_column(fixture_project: Project) -> None:
    assert messages(fixture_project, BASE.replace("stratify: segment", "stratify: region")) == []


def test_empty_theme_keyword(fixture_project: Project) -> None:
    assert messages(fixture_project, BASE.replace("[price, cost]", "[price, ' ']")) == [
        "38:20 themes.pricing[1]: expected a keyword, found empty text"
    ]


def test_schema_errors_do_not_hide_the_other_problems_of_the_file(
    fixture_project: Project,
) -> None:
    """A bad cron and a misspelt key used to be all a run reported; the rest came after."""
    text = (
        BASE.replace("scheduel:", "schedule:")
        .replace('"0 9 * * MON"', '"0 9 7 */3 MONDAY"')
        .replace("  segments:", "  segmnets:")
        .replace("contact.seats >= 5", "contact.seets >= 5")
        .replace("template: t_invite", "template: t_invte")
        .replace("answers.score <= 6", "answers.scor <= 6")
        .replace("    type: text\n", "    type: essay\n")
    )

    found = messages(fixture_project, text)

    assert [message.split(": ", 1)[0] for message in found] == [
        "7:9 schedule.cron",
        "14:12 audience.filter",
        "15:3 audience.segmnets",
        "25:11 questions[1].type",
        "29:13 invitation.template",
        "33:12 followup[0].when",
    ], found
    assert "found 'MONDAY'" in found[0] and "'seets' (did you mean 'seats'?)" in found[1]
    assert "'t_invte' (did you mean 't_invite'?)" in found[4] and "'scor'" in found[5]
    # the question whose type was refused keeps its id: the task naming it is not flagged
    assert not any(message.startswith("34:") for message in found)


def test_a_cron_error_names_its_field_or_the_count() -> None:
    from cxops.spec.cron import cron_problem

    assert cron_problem("0 9 7 */3 MON") is None
    assert cron_problem("0 9 7 */3 MONDAY") == (
        "expected field 5, the day of week, to be 0-7 (0 and 7 are Sunday) or SUN-SAT "
        "(values, ranges 1-5, lists 1,3, steps */3 or *), found 'MONDAY'"
    )
    assert (cron_problem("0 25 * * *") or "").startswith("expected field 2, the hour, to be 0-23")
    assert cron_problem("0 9 * MON") == (
        "expected a five-field cron expression (minute hour day-of-month month day-of-week), "
        "found 4 fields in '0 9 * MON'"
    )


def test_jinja_in_a_text_that_is_not_a_template_is_refused_where_it_is(
    fixture_project: Project,
) -> None:
    """Options and playbook steps are shown as written: braces would reach people."""
    text = BASE.replace(
        '    text: "Why?"\n',
        '    text: "Why, {{ contact.name }}?"\n',  # question text is a template: fine
    ).replace("    context: [plan, region]\n", "    steps: ['Call {{ contact.name }}']\n")

    found = messages(fixture_project, text)

    assert [message.split(": ", 2)[:2] for message in found] == [
        ["36:13 followup[0].steps[0]", "expected plain text"]
    ], found
