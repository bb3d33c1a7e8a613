"""The Typer app and the helpers every command module shares."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from rich.console import Console

    from cxops.export import ExportFormat
    from cxops.project import ProjectContext
    from cxops.settings import Settings
    from cxops.spec.models import Survey
    from cxops.store.db import Store

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
SurveyArgument = Annotated[str, typer.Argument(help="Survey file, or a survey id in surveys/.")]


def export_format(value: str) -> ExportFormat:
    """`--format`'s value, refused the same way by every export command."""
    if value == "csv":
        return "csv"
    if value == "jsonl":
        return "jsonl"
    raise typer.BadParameter(f"expected csv or jsonl, found {value!r}", param_hint="--format")


def _check_format(value: str) -> str:
    """The `--format` callback (Typer reads its annotations at run time: plain `str`)."""
    return export_format(value)


FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        help="csv (cells neutralised for spreadsheets) or jsonl.",
        callback=_check_format,
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Write to this file instead of standard output (- for it)."),
]


def export_survey(
    ctx: typer.Context,
    survey: str,
    fmt: str,
    out: Path | None,
    project_dir: Path | None,
    what: str,
    write: Callable[[Store, Survey, ExportFormat, TextIO, Settings], int],
) -> None:
    """An `export` command: SURVEY's `what` written by `write` to standard output, or to
    `out` (then the count is said)."""
    project = project_context(ctx, project_dir)
    found = project.surveys.find(survey, checks=False)
    chosen = export_format(fmt)
    if out is None or str(out) == "-":  # `-`: standard output, as Unix tools read it
        write(project.store, found, chosen, sys.stdout, project.settings)
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        count = write(project.store, found, chosen, handle, project.settings)
    console().print(f"{count} {what} written to {out}")


def project_context(
    ctx: typer.Context, project_dir: Path | None = None, **overrides: Any
) -> ProjectContext:
    """The running command's project, built once: settings from `--project-dir` and the
    flags given (`settings_for`), the survey lookup bound to that directory, and a store
    and a channel opened on first use. It is kept on `ctx.obj` and closed with the
    command's context when the command ends, error or not."""
    from cxops.project import ProjectContext, open_project

    if isinstance(ctx.obj, ProjectContext):
        return ctx.obj
    project = ctx.with_resource(open_project(settings_for(project_dir, **overrides)))
    ctx.obj = project
    return project


def settings_for(project_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings with CLI flags on top (None = flag not given). While `cxops up` runs for
    the project, links use its public URL unless CXOPS_PUBLIC_URL is set."""
    from cxops.schedule.env import prepare_prefect_env, read_up_api
    from cxops.settings import get_settings

    settings = get_settings(project_dir=project_dir, **overrides)
    prepare_prefect_env(settings.project_dir)  # quiet Prefect; `cxops up`'s API if it runs
    if "public_url" not in settings.model_fields_set:
        up = read_up_api(settings.project_dir)
        if up is not None and up.public_url:
            return settings.model_copy(update={"public_url": up.public_url})
    return settings


def use_flow_api(settings: Settings) -> None:
    """Before a command's flow runs: the project's background Prefect API (started by the
    first such command, stopped when idle) unless an API is chosen or `up` runs; when it
    does not start, one line and Prefect's ephemeral API for this command."""
    from cxops.schedule.background_api import use_background_api
    from cxops.schedule.processes import ProcessError

    if settings.prefect_api_url:
        return
    try:
        use_background_api(settings.project_dir, settings.prefect_idle_minutes)
    except ProcessError as exc:
        from rich.console import Console

        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[yellow]warning:[/] {escape(str(exc))}; this command starts its own"
        )


def console_error(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}"
    )


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def escape(text: str) -> str:
    """`text` shown as is by rich (no markup in names, paths or messages)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
