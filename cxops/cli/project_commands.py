"""Commands about the project itself: settings and the store's schema."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, console, print_json, project_context

db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command("settings")
def show_settings(
    ctx: typer.Context,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown",
            help="Print the table of every setting (variable, key, default) instead; "
            "reads no project.",
        ),
    ] = False,
) -> None:
    """Show the settings in force (secrets redacted)."""
    if markdown:
        from cxops.settings import settings_table

        sys.stdout.write(settings_table())
        return
    settings = project_context(ctx, project_dir).settings
    shown = settings.redacted()
    if as_json:
        print_json(shown)
        return
    out = console()
    for name, value in shown.items():
        out.print(f"{name:28} {value}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, project_dir: ProjectDirOption = None) -> None:
    """Apply the store's migrations (also done on first use)."""
    from cxops.settings import hide_password

    project = project_context(ctx, project_dir)
    if project.store.dialect:  # opened, so migrated
        console().print(f"store is up to date: {hide_password(project.settings.store_url)}")
