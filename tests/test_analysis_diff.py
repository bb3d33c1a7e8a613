"""`cxops diff`: a survey change as a code reviewer needs to see it."""

from __future__ import annotations

import subprocess

import pytest

from cxops.testing import Project

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]


@pytest.fixture
def repo(project: Project) -> Project:
    subprocess.run([*GIT, "init", "-q"], cwd=project.root, check=True)
    subprocess.run([*GIT, "add", "surveys", "data", "templates"], cwd=project.root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "surveys"], cwd=project.root, check=True)
    return project


def edit(project: Project, old: str, new: str) -> None:
    path = project.path("surveys/nps-quarterly.yaml")
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_rewording_and_adding_are_not_breaking(repo: Project) -> None:
    edit(
        repo,
        'text: "What is the main reason for your score?"',
        'text: "What is the main reason for your rating?"\n'
        "    required: false\n"
        "  - id: plan_fit\n"
        "    type: rating\n"
        '    text: "How well does your plan fit?"',
    )
    result = repo.run(["diff", "nps-quarterly", "--json"])

    changes = {(c["question"], c["change"]) for c in result.json["questions"]}
    assert changes == {("reason", "re-worded"), ("plan_fit", "added")}
    assert result.json["breaking"] is False
    text = repo.run(["diff", "nps-quarterly"]).stdout
    assert "question reason: re-worded" in text and "BREAKING" not in text


def test_a_changed_scale_or_id_breaks_the_trend(repo: Project) -> None:
    edit(repo, "  - id: score\n    type: nps", "  - id: ltr\n    type: nps")
    edit(repo, "answers.score", "answers.ltr")
    result = repo.run(["diff", "nps-quarterly"], expect_pass=False)

    assert result.exit_code == 1
    assert "BREAKING question ltr: id changed (was 'score')" in result.stdout
    assert "--allow-breaking" in result.stdout
    repo.run(["diff", "nps-quarterly", "--allow-breaking"])  # accepted on purpose: exit 0

    edit(repo, "  - id: ltr\n    type: nps", "  - id: score\n    type: nps")
    edit(repo, "answers.ltr", "answers.score")
    edit(repo, "  - id: reason\n    type: text", "  - id: reason\n    type: rating")
    changed = repo.run(["diff", "nps-quarterly", "--json"], expect_pass=False).json
    assert changed["breaking"] is True
    assert [(c["question"], c["change"]) for c in changed["questions"]] == [
        ("reason", "type changed")
    ]


def test_audience_changes_show_counts_before_and_after(repo: Project) -> None:
    edit(repo, "contact.seats >= 5", "contact.seats >= 50")
    result = repo.run(["diff", "nps-quarterly", "--json"]).json

    assert result["audience"] == ["filter"]
    before, after = result["counts"]["before"], result["counts"]["after"]
    assert before["audience"] == after["audience"] > 0  # the same current source
    assert after["eligible"] < before["eligible"]
    assert after["filtered_out"] > before["filtered_out"]
    text = repo.run(["diff", "nps-quarterly"]).stdout
    assert "audience: filter" in text and "eligible" in text


def test_outside_git_is_one_clear_line(project: Project) -> None:
    result = project.run(["diff", "nps-quarterly"], expect_pass=False)

    assert "not in a git repository" in result.stderr and "Traceback" not in result.stderr


def test_validate_names_an_unknown_report_column(project: Project) -> None:
    path = project.path("surveys/nps-quarterly.yaml")
    path.write_text(
        path.read_text(encoding="utf-8") + "report:\n  revenue: mrrr\n", encoding="utf-8"
    )
    result = project.run(["validate", "surveys/nps-quarterly.yaml"], expect_pass=False)

    assert "nps-quarterly.yaml:" in result.output and "report.revenue" in result.output
    assert "'mrrr'" in result.output and "mrr" in result.output


def test_adding_or_ending_a_variant_is_not_breaking() -> None:
    from cxops.analysis.diff import compare, diff_lines
    from cxops.spec.models import Survey

    def survey(**invitation: object) -> Survey:
        return Survey.model_validate(
            {
                "id": "exp",
                "name": "Experiment",
                "kind": "nps",
                "audience": {"source": {"csv": "data/c.csv", "key": "id"}},
                "questions": [{"id": "score", "type": "nps", "text": "How likely?"}],
                "invitation": {"template": "nps_invite", "from": "r@acme.example", **invitation},
            }
        )

    two = [{"id": "a", "subject": "A"}, {"id": "b", "subject": "B"}]
    added = compare(survey(), survey(variants=two))
    assert added["variants"] == ["variant a added", "variant b added"]
    assert not added["breaking"]
    ended = compare(survey(variants=two), survey(variants=two, winner="b"))
    assert ended["variants"] == ["winner b: the other variants end"] and not ended["breaking"]
    removed = compare(survey(variants=two), survey(variants=two[1:]))
    assert removed["variants"] == ["variant a ended"] and not removed["breaking"]
    lines = diff_lines({"survey": "exp", "file": "f", "against": "HEAD", **removed})
    assert "  invitation: variant a ended (not breaking: metrics are over every variant)" in lines
