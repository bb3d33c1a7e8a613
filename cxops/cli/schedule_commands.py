"""Commands for running on a schedule: `deploy`, `up`, `init`, `status`.

Thin: each parses, calls one function of `cxops.schedule`, prints.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, console, print_json, settings_for


@app.command("deploy")
def deploy_command(
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if prefect.yaml is out of date (CI)."),
    ] = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the project's prefect.yaml from its surveys: a deployment per wave and loop flow."""
    from cxops.schedule.deploy import deploy_project

    settings = settings_for(project_dir)
    result = deploy_project(settings.project_dir, settings.surveys_path, check=check)
    if as_json:
        print_json(
            {"path": str(result.path), "changed": result.changed, "deployments": list(result.names)}
        )
    elif check:
        state = "out of date: run `cxops deploy`" if result.changed else "up to date"
        console().print(f"{result.path}: {state} ({len(result.names)} deployments)")
    else:
        state = "written" if result.changed else "unchanged"
        console().print(f"{result.path}: {state}; deployments: {', '.join(result.names)}")
    if check and result.changed:
        raise typer.Exit(1)
