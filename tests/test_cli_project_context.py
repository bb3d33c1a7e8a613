"""One project context per command: `--project-dir` is the project wherever the command
runs from; the store is opened only when a command needs it, and closed on exit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cxops.project import open_project
from cxops.store.db import Store
from cxops.testing.project import Project

#: Survey file → its invitation template, copied under a name only the project has.
OWN_TEMPLATES = {"nps-quarterly": "nps_invite", "interviews-power-users": "interview_invite"}


@pytest.fixture
def elsewhere(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, with no CXOPS_PROJECT_DIR: only `--project-dir` names the
    project. Its surveys read `data/customers.csv` and templates found only in the
    project's own `templates/` (read against the wrong folder, they are missing)."""
    for survey_id, template in OWN_TEMPLATES.items():
        for suffix in ("html.j2", "subject.j2", "txt.j2"):
            source = project.root / "templates" / f"{template}.{suffix}"
            project.write({f"templates/team_{template}.{suffix}": source.read_text()})
        survey = project.path(f"surveys/{survey_id}.yaml")
        text = survey.read_text()
        assert f"template: {template}\n" in text
        survey.write_text(text.replace(f"template: {template}\n", f"template: team_{template}\n"))
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.delenv("CXOPS_PROJECT_DIR")
    monkeypatch.chdir(folder)
    return folder


def _run(project: Project, folder: Path, *args: str) -> str:
    return project.run([*args, "--project-dir", str(project.root)], cwd=folder).output


def test_project_dir_elsewhere_than_the_working_folder(project: Project, elsewhere: Path) -> None:
    database = project.root / "cxops.db"

    assert "OK" in _run(project, elsewhere, "validate")
    assert '"sampled"' in _run(project, elsewhere, "plan", "nps-quarterly", "--json")
    why = _run(project, elsewhere, "why", "nobody@example.com", "nps-quarterly")
    assert "nobody@example.com" in why
    _run(project, elsewhere, "deploy")
    assert (project.root / "prefect.yaml").is_file()
    # None of these needs the store: none created it.
    assert not database.exists()

    report = _run(project, elsewhere, "report", "nps-quarterly", "--json")
    assert '"nps-quarterly"' in report
    status = _run(project, elsewhere, "interviews", "status", "interviews-power-users")
    assert status.startswith("interviews-power-users:")
    assert database.exists()
    assert sorted(p.name for p in elsewhere.iterdir()) == []


def test_the_context_opens_the_store_on_first_use_and_closes_it(project: Project) -> None:
    settings = project.settings()
    database = project.root / "cxops.db"

    with open_project(settings) as context:
        assert context.surveys.find("nps-quarterly").id == "nps-quarterly"
        assert not context.store_opened and not database.exists()
        store = context.store
        assert context.store is store and database.exists()
        disposed = _count_disposals(store)
    assert disposed == [store]
    assert not context.store_opened


def test_the_context_closes_the_store_and_channel_on_error(project: Project) -> None:
    closed: list[str] = []
    with (
        pytest.raises(RuntimeError, match="the block failed"),
        open_project(project.settings()) as context,
    ):
        disposed = _count_disposals(context.store)
        channel = context.channel
        original_close = channel.close

        def close() -> None:
            closed.append("channel")
            original_close()

        channel.close = close  # type: ignore[method-assign]
        raise RuntimeError("the block failed")
    assert closed == ["channel"]
    assert len(disposed) == 1


def test_existing_store_creates_nothing(project: Project) -> None:
    with open_project(project.settings()) as context:
        assert context.existing_store() is None
    assert not (project.root / "cxops.db").exists()


def test_a_command_closes_the_store_it_opened(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process: every store `cxops tasks` opens is disposed once the command ends."""
    from typer.testing import CliRunner

    from cxops.cli import app

    monkeypatch.setattr(os, "environ", dict(os.environ))  # the command quiets Prefect
    opened: list[Store] = []
    disposed: list[Store] = []
    original_init, original_dispose = Store.__init__, Store.dispose

    def init(self: Store, url: str) -> None:
        original_init(self, url)
        opened.append(self)

    def dispose(self: Store) -> None:
        disposed.append(self)
        original_dispose(self)

    monkeypatch.setattr(Store, "__init__", init)
    monkeypatch.setattr(Store, "dispose", dispose)

    result = CliRunner().invoke(app, ["tasks", "--project-dir", str(project.root)])

    assert result.exit_code == 0, result.output
    assert "no tasks" in result.output
    assert opened and disposed == opened


def _count_disposals(store: Store) -> list[Store]:
    """The list that `store.dispose()` appends `store` to, calling the real one after."""
    disposed: list[Store] = []
    original = store.dispose

    def dispose() -> None:
        disposed.append(store)
        original()

    store.dispose = dispose  # type: ignore[method-assign]
    return disposed
