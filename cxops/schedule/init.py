"""`cxops init DIR`: a new project that validates, plans, previews and dry-runs at once.

The example files ship inside the package (`example_project/`): four surveys (one
per kind: nps, csat, ces, interview), sample contacts and tickets, an empty
`templates/` with a README on overrides and a `.gitignore`. `.env.example` is
written from the `Settings` model (every setting, commented) and `prefect.yaml` by
`cxops deploy`. The project becomes a git repository (`cxops diff` compares survey
files with git revisions) unless it is inside one already or git is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxops.errors import ConfigError
from cxops.schedule.deploy import deploy_project

EXAMPLE = Path(__file__).resolve().parent / "example_project"
#: Files stored under another name in the package (a `.gitignore` there would act on git).
RENAMED = {"dot-gitignore": ".gitignore"}


@dataclass(frozen=True, slots=True)
class InitResult:
    """The files written (relative to the project) and what became of git."""

    written: list[Path]
    #: One sentence: a repository was created, one already holds the project, or no git.
    git: str


def init_project(target: Path, *, force: bool = False) -> InitResult:
    """Write the example project into `target` and make it a git repository if it is none."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ConfigError(
            f"{target}: not empty; use --force to write the example project into it "
            "(files with the same names are replaced)"
        )
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(EXAMPLE.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(EXAMPLE)
        relative = relative.with_name(RENAMED.get(relative.name, relative.name))
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        written.append(relative)
    (target / ".env.example").write_text(env_example(), encoding="utf-8")
    written.append(Path(".env.example"))
    deploy_project(target.resolve(), target.resolve() / "surveys")
    written.append(Path("prefect.yaml"))
    return InitResult(sorted(written), git_repository(target.resolve()))


def git_repository(folder: Path) -> str:
    """`git init` in `folder` unless it is in a repository already; what happened, in words."""
    git = shutil.which("git")
    if git is None:
        return "git is not installed: no repository made (cxops diff needs one: git init)"
    inside = _git(git, folder, "rev-parse", "--show-toplevel")
    if inside.returncode == 0:
        return f"already in the git repository {inside.stdout.strip()}"
    made = _git(git, folder, "init", "--quiet")
    if made.returncode != 0:
        reason = made.stderr.strip().splitlines()[-1:] or ["unknown reason"]
        return f"git init failed ({reason[0]}): cxops diff needs a repository"
    return "made a git repository (cxops diff compares survey files with its commits)"


def _git(git: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [git, *args], cwd=folder, capture_output=True, text=True, timeout=60, check=False
    )


def env_example() -> str:
    """Every setting of `cxops.settings.Settings`, commented out, with its description,
    group by group."""
    from cxops.settings import ENV_PREFIX, GROUPS

    lines = [
        "# Settings of this cxops project. Copy to .env (never commit .env) and uncomment",
        "# what you change; the environment wins over .env. `cxops settings` shows them all.",
        "",
    ]
    for group in GROUPS:
        lines += [f"# -- {group.__doc__ or group.__name__}", ""]
        for name, field in group.model_fields.items():
            lines.append(f"# {field.description or name}")
            lines.append(f"# {ENV_PREFIX}{name.upper()}={_default(field.default)}")
            lines.append("")
    return "\n".join(lines)


def _default(value: Any) -> str:
    from pydantic_core import PydanticUndefined

    if value is None or value is PydanticUndefined:
        return ""
    return str(value)
