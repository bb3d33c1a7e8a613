"""`cxops sync`: the store's facts into a warehouse (docs/warehouse.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, project_context

ToOption = Annotated[
    str | None,
    typer.Option(
        "--to",
        help=(
            "duckdb:///PATH (default warehouse.duckdb in the project), postgresql://… "
            "(schema cxops), parquet:///DIR, or dlt:NAME (dlt's own configuration)."
        ),
    ),
]


@app.command("sync")
def sync_command(
    ctx: typer.Context,
    to: ToOption = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load what changed in the store into a warehouse: invitations, responses, answers, tasks."""
    from cxops.sync.project import sync_project

    project = project_context(ctx, project_dir)
    result = sync_project(project, to)
    if as_json:
        print_json(result.as_dict())
        return
    if result.resumed:
        typer.echo("finished the load an interrupted sync left")
    written = ", ".join(f"{table} {count}" for table, count in result.rows.items() if count)
    typer.echo(f"synced into {result.destination}: {written or 'nothing new'}")
    if result.compacted:
        typer.echo("rewrote the destination's files after an erasure")
