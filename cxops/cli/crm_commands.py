"""`cxops crm push`: each person's latest NPS onto their HubSpot contact (docs/crm.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, project_context

crm_app = typer.Typer(
    help="The CRM: each person's latest NPS on their contact record.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(crm_app, name="crm")

DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Say how many contacts would be written; send no request."),
]


@crm_app.command("push")
def crm_push_command(
    ctx: typer.Context,
    dry_run: DryRunOption = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write each person's latest NPS score, category, date and open task onto their contact."""
    from cxops.crm.project import push_project

    project = project_context(ctx, project_dir)
    result = push_project(project, dry_run=dry_run)
    if as_json:
        print_json(result.as_dict())
    elif dry_run:
        typer.echo(
            f"would look up and write {result.updated} of {result.people} people "
            f"({result.unchanged} unchanged, {result.missing} without a contact); "
            f"{result.erasures_pending} clearings after forget pending"
        )
    else:
        typer.echo(
            f"HubSpot: wrote {result.updated} contacts of {result.people} people "
            f"({result.unchanged} unchanged, {result.missing} without a contact, not created) "
            f"in {result.requests} requests"
            + (f"; cleared {result.cleared} after forget" if result.cleared else "")
        )
        for contact_id, reason in sorted(result.failed.items())[:5]:
            typer.echo(f"warning: contact {contact_id} not written: {reason}", err=True)
        if len(result.failed) > 5:
            typer.echo(f"warning: {len(result.failed) - 5} more not written", err=True)
    if result.stopped:
        typer.echo(f"error: stopped: {result.stopped}", err=True)
        raise typer.Exit(1)
