"""Every error reaches the user through the CLI's one handler: one line, no traceback
unless `--debug` asks for it."""

from __future__ import annotations

import pytest

from cxops import cli
from cxops.errors import NotFoundError
from cxops.testing import Project


def failing(exc: BaseException):
    def raise_it(*args: object, **kwargs: object) -> None:
        raise exc

    return raise_it


@pytest.mark.parametrize(
    "exc",
    [
        LookupError("no wave 'w9' of survey 'nps'; call ensure_wave first\nsecond line"),
        ValueError("unknown delivery status 'x'"),
        AssertionError("unexpected parameter order"),
    ],
)
def test_an_unexpected_error_is_one_line_naming_its_type(
    empty_project: Project, monkeypatch, capsys, exc
) -> None:
    import cxops.followup.tasks

    monkeypatch.setattr(cxops.followup.tasks, "list_task_rows", failing(exc))
    with pytest.raises(SystemExit) as exited:
        cli.main(["tasks"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: unexpected {type(exc).__name__}: ")
    assert "--debug" in line and "Traceback" not in err


def test_debug_shows_the_traceback(empty_project: Project, monkeypatch) -> None:
    import cxops.followup.tasks

    monkeypatch.setattr(cxops.followup.tasks, "list_task_rows", failing(LookupError("boom")))
    with pytest.raises(LookupError, match="boom"):
        cli.main(["tasks", "--debug"])


def test_a_cxops_error_is_its_message(empty_project: Project, monkeypatch, capsys) -> None:
    import cxops.followup.tasks

    monkeypatch.setattr(cxops.followup.tasks, "close_task", failing(NotFoundError("no task 7")))
    with pytest.raises(SystemExit) as exited:
        cli.main(["tasks", "close", "7", "--outcome", "resolved"])
    assert exited.value.code == 1
    assert capsys.readouterr().err.strip() == "error: no task 7"


def test_a_real_user_error_from_the_store_is_one_line(empty_project: Project) -> None:
    result = empty_project.run(
        ["tasks", "close", "12345", "--outcome", "resolved"], expect_pass=False
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == "error: no task 12345"
    bad = empty_project.run(["tasks", "--status", "later"], expect_pass=False)
    assert (
        bad.exit_code == 2
        and "expected open, done, overdue, snoozed, withdrawn or all" in bad.stderr
    )


@pytest.mark.parametrize("command", ["plan", "run"])
def test_a_bad_wave_id_is_one_line_before_any_flow_starts(project: Project, command: str) -> None:
    result = project.run([command, "nps-quarterly", "--wave", "../../etc"], expect_pass=False)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "error: --wave '../../etc': expected 1-64 letters, digits, '.', '_' or '-' "
        "(it names a folder of the outbox)"
    )  # nothing of Prefect's: no flow run was started


def test_a_file_the_user_named_that_cannot_be_written_is_one_line(project: Project) -> None:
    folder = project.root / "reports"
    folder.mkdir()
    result = project.run(["report", "nps-quarterly", "--out", str(folder)], expect_pass=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == f"error: {folder}: Is a directory"
