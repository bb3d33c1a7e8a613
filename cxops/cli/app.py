"""The Typer app and the helpers every command module shares."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="cxops",
    help="Customer research as code: surveys in git, compiled into Prefect flows.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

ProjectDirOption = Annotated[
    Path | None,
    typer.Option("--project-dir", help="Project directory (default: CXOPS_PROJECT_DIR or .)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def settings_for(project_dir: Path | None = None, **overrides: Any):
    """Settings with CLI flags on top (None = flag not given)."""
    from cxops.schedule.env import prepare_prefect_env
    from cxops.settings import get_settings

    settings = get_settings(project_dir=project_dir, **overrides)
    prepare_prefect_env(settings.project_dir)  # quiet Prefect; `cxops up`'s API if it runs
    return settings


def console_error(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {_escape(message)}"
    )


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
