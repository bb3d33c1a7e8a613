"""Each file in tests/broken_surveys/ reports exactly the problem its first line declares."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from cxops.spec.validate import validate_paths
from cxops.testing import Project

BROKEN = Path(__file__).parent / "broken_surveys"
EXPECT = re.compile(rb"^# expect: (\d+):(\d+) (\S+): (.+)$")
PARTS = ("subject", "html", "txt")


def write_fixture_project(project: Project) -> None:
    """Templates t_invite in en and de, and data/contacts.csv, as the fixtures expect."""
    files: dict[str, str] = {}
    for part in PARTS:
        files[f"templates/t_invite.{part}.j2"] = f"Hello {part}"
        files[f"templates/t_invite.de.{part}.j2"] = f"Hallo {part}"
    files["data/contacts.csv"] = "id,email,name,plan,seats,region\n1,a@b.example,A,team,5,eu\n"
    project.write(files)


def expectation(path: Path) -> tuple[int, int, str, str]:
    first_line = path.read_bytes().split(b"\n", 1)[0]
    match = EXPECT.match(first_line)
    assert match, f"{path.name}: first line must be '# expect: LINE:COL KEY.PATH: message'"
    key_path = match[3].decode()
    return int(match[1]), int(match[2]), "" if key_path == "-" else key_path, match[4].decode()


BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))


def test_there_are_enough_broken_surveys() -> None:
    assert len(BROKEN_FILES) >= 15


@pytest.mark.parametrize("path", BROKEN_FILES, ids=[p.stem for p in BROKEN_FILES])
def test_broken_survey_reports_its_problem(empty_project: Project, path: Path) -> None:
    write_fixture_project(empty_project)
    target = empty_project.path("surveys") / path.name
    target.parent.mkdir(exist_ok=True)
    shutil.copy(path, target)
    line, column, key_path, message = expectation(path)

    report = validate_paths([target], empty_project.root)

    assert [(p.location.line, p.location.column, p.key_path) for p in report.problems] == [
        (line, column, key_path)
    ], "\n".join(str(p) for p in report.problems)
    problem = report.problems[0]
    assert message in problem.message
    assert problem.location.path == target
    caret_line = problem.with_context().splitlines()[-1]
    assert caret_line == "    " + " " * (column - 1) + "^"


def test_the_fixture_base_is_valid(empty_project: Project) -> None:
    """Every broken file is this survey with one thing broken; the survey itself is fine."""
    write_fixture_project(empty_project)
    fixed = BROKEN / "unknown_key_suggestion.yaml"
    text = fixed.read_text(encoding="utf-8").replace("scheduel:", "schedule:")
    empty_project.write({"surveys/ok.yaml": text})

    report = validate_paths([empty_project.path("surveys")], empty_project.root)

    assert report.problems == []
    assert [s.id for s in report.surveys] == ["broken-x"]
