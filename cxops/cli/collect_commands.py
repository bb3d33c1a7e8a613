"""Commands of the collector: `cxops serve` and `cxops export responses`.

`export_app` is the `cxops export` group; the tasks export adds its command to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxops.cli.app import ProjectDirOption, app, console, settings_for

export_app = typer.Typer(
    help="Export answers and tasks (safe for spreadsheets).", no_args_is_help=True
)
app.add_typer(export_app, name="export")

FormatOption = Annotated[
    str, typer.Option("--format", help="csv (cells neutralised for spreadsheets) or jsonl.")
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write to this file instead of standard output.")
]


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    project_dir: ProjectDirOption = None,
) -> None:
    """Run the collector (answer pages, unsubscribe, SendGrid events) with uvicorn."""
    from cxops.collect.server import serve_collector
    from cxops.collect.webhooks import webhook_mode

    settings = settings_for(project_dir)
    console().print(
        f"collector listening on http://{host}:{port} (links use {settings.public_url})"
    )
    mode = webhook_mode(settings)
    console().print(f"[bold red]{mode}[/]" if "INSECURE" in mode else mode, highlight=False)
    serve_collector(settings, host=host, port=port)


@export_app.command("responses")
def export_responses_command(
    survey: Annotated[str, typer.Argument(help="Survey id or file.")],
    fmt: FormatOption = "csv",
    out: OutOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Every response of SURVEY: survey, wave, contact_key, segment, status, answers, submitted_at, suspect."""
    import sys

    from cxops.collect.state import survey_by_name
    from cxops.errors import ConfigError
    from cxops.export import export_responses
    from cxops.store.db import open_store

    if fmt not in ("csv", "jsonl"):
        raise ConfigError(f"--format: expected csv or jsonl, found {fmt!r}")
    settings = settings_for(project_dir)
    found = survey_by_name(survey, settings.surveys_path, settings.project_dir)
    store = open_store(settings.store_url)
    try:
        if out is None:
            count = export_responses(store, found, fmt, sys.stdout)  # type: ignore[arg-type]
        else:
            with out.open("w", encoding="utf-8", newline="") as handle:
                count = export_responses(store, found, fmt, handle)  # type: ignore[arg-type]
    finally:
        store.dispose()
    if out is not None:
        console().print(f"{count} responses written to {out}")
