"""The README and docs/ are true to the code: the README's example survey is a real,
valid survey; docs/commands.md names every command and option, docs/settings.md holds the
settings table generated from the model; nothing cites a file users do not have."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]  # these tests are about this repository


def test_the_readme_survey_validates(project):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```yaml\n# surveys/nps-quarterly.yaml\n(.*?)```", readme, re.S)
    project.write({"surveys/nps-quarterly.yaml": example})
    result = project.run(["validate", "surveys/nps-quarterly.yaml"])
    assert "1 survey" in result.stdout
    summary = project.run(["plan", "nps-quarterly", "--json"]).json
    assert summary["sampled"] == 300


def test_the_survey_format_example_validates(project):
    text = (REPO_ROOT / "docs" / "survey-format.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```yaml\n# surveys/nps-quarterly.yaml\n(.*?)```", text, re.S)
    project.write({"surveys/nps-quarterly.yaml": example})
    result = project.run(["validate", "surveys/nps-quarterly.yaml"])
    assert "1 survey" in result.stdout


def _leaf_commands() -> dict[str, list[str]]:
    """Every command of the Typer app ("tasks close", and "tasks" itself, whose group
    lists tasks) -> its long option names."""
    import typer

    import cxops.cli
    from cxops.cli.app import app

    assert cxops.cli.main  # the import registers every command module
    found: dict[str, list[str]] = {}

    def walk(command: Any, path: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None or (path and command.invoke_without_command):
            options = [
                name
                for param in command.params
                if param.param_type_name == "option"
                for name in param.opts
                if name.startswith("--")
            ]
            found[" ".join(path)] = options
        for name, sub in (subcommands or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def _sections(markdown: str) -> dict[str, str]:
    """`### `cxops PATH ARGS`` heading -> its text, keyed by PATH (lowercase words)."""
    sections: dict[str, str] = {}
    for block in re.split(r"^### ", markdown, flags=re.M)[1:]:
        heading, _, body = block.partition("\n")
        words = re.findall(r"[a-z][a-z-]*", heading.removeprefix("`cxops ").split("`")[0])
        sections[" ".join(words)] = body
    return sections


def test_every_command_and_option_is_in_docs_commands():
    sections = _sections((REPO_ROOT / "docs" / "commands.md").read_text(encoding="utf-8"))
    common = {"--project-dir", "--json"}  # described once, for every command
    missing = []
    for command, options in _leaf_commands().items():
        if command not in sections:
            missing.append(f"cxops {command}")
            continue
        missing += [
            f"cxops {command} {option}"
            for option in options
            if option not in common and option not in sections[command]
        ]
    assert not missing, f"docs/commands.md lacks {missing}"


def test_docs_settings_holds_the_generated_table():
    from cxops.settings import settings_table

    text = (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    (table,) = re.findall(
        r"do not edit by hand -->\n(.*?)<!-- end of settings table -->", text, re.S
    )
    assert table == settings_table(), (
        "docs/settings.md's table is out of date: paste `cxops settings --markdown` into it"
    )


def test_the_docs_cite_no_file_users_do_not_have():
    private_spec = "DESIGN" + ".md"  # the maintainers' notes, not part of the repository
    folders = ["cxops", "tests", "docs", "benchmarks", "scripts"]
    files = [REPO_ROOT / "README.md", REPO_ROOT / "ARCHITECTURE.md"]
    files += [
        path for folder in folders for path in (REPO_ROOT / folder).rglob("*") if path.is_file()
    ]
    citing = [
        str(path.relative_to(REPO_ROOT))
        for path in files
        if path.suffix in {".py", ".md", ".j2", ".yaml", ".toml"}
        and private_spec in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert not citing, f"these cite {private_spec}, which users do not have: {citing}"


def test_the_readme_links_to_docs_that_exist():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)", readme))
    assert {"docs/commands.md", "docs/settings.md", "docs/survey-format.md"} <= linked
    assert {"docs/behaviour.md"} <= linked
    for path in linked:
        assert (REPO_ROOT / path).is_file(), path
