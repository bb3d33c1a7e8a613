"""Commands of the collector: `cxops serve` and `cxops export responses`.

`export_app` is the `cxops export` group; the tasks export adds its command to it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cxops.cli.app import (
    FormatOption,
    OutOption,
    ProjectDirOption,
    SurveyArgument,
    app,
    console,
    export_survey,
    project_context,
)

export_app = typer.Typer(
    help="Export answers and tasks (safe for spreadsheets).", no_args_is_help=True
)
app.add_typer(export_app, name="export")


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    project_dir: ProjectDirOption = None,
) -> None:
    """Run the collector (answer pages, task pages, unsubscribe, SendGrid events) with uvicorn."""
    from cxops.collect.server import check_can_listen, serve_collector
    from cxops.collect.webhooks import webhook_mode
    from cxops.followup.collector import create_collector

    settings = project_context(ctx, project_dir).settings
    check_can_listen(host, port)
    console().print(
        f"collector listening on http://{host}:{port} (links use {settings.public_url})"
    )
    mode = webhook_mode(settings)
    console().print(f"[bold red]{mode}[/]" if "INSECURE" in mode else mode, highlight=False)
    serve_collector(create_collector(settings), host=host, port=port)


@export_app.command("responses")
def export_responses_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    fmt: FormatOption = "csv",
    out: OutOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Every response of SURVEY: survey, wave, contact_key, segment, status, answers, submitted_at, suspect."""
    from cxops.export import export_responses

    export_survey(
        ctx,
        survey,
        fmt,
        out,
        project_dir,
        "responses",
        lambda store, found, chosen, handle, _settings: export_responses(
            store, found, chosen, handle
        ),
    )
