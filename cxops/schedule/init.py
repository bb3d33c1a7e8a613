"""`cxops init DIR`: a new project that validates, plans, previews and dry-runs at once.

The example files ship inside the package (`example_project/`): four surveys (one
per kind: nps, csat, ces, interview), sample contacts and tickets, an empty
`templates/` with a README on overrides and a `.gitignore`. `.env.example` is
written from the `Settings` model (every setting, commented) and `prefect.yaml` by
`cxops deploy`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from cxops.errors import ConfigError
from cxops.schedule.deploy import deploy_project

EXAMPLE = Path(__file__).resolve().parent / "example_project"
#: Files stored under another name in the package (a `.gitignore` there would act on git).
RENAMED = {"dot-gitignore": ".gitignore"}


def init_project(target: Path, *, force: bool = False) -> list[Path]:
    """Write the example project into `target`; the files written, relative to it."""
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
    return sorted(written)


def env_example() -> str:
    """Every setting of `cxops.settings.Settings`, commented out, with its description."""
    from cxops.settings import ENV_PREFIX, Settings

    lines = [
        "# Settings of this cxops project. Copy to .env (never commit .env) and uncomment",
        "# what you change; the environment wins over .env. `cxops settings` shows them all.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"# {field.description or name}")
        lines.append(f"# {ENV_PREFIX}{name.upper()}={_default(field.default)}")
        lines.append("")
    return "\n".join(lines)


def _default(value: Any) -> str:
    from pydantic_core import PydanticUndefined

    if value is None or value is PydanticUndefined:
        return ""
    return str(value)
