"""`cxops webhooks send|status|retry`: the outbound webhooks (docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, project_context
from cxops.errors import ConfigError

webhooks_app = typer.Typer(
    help="Signed events to other systems: send what is due, status, dead letters back.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("send")
def send_command(
    ctx: typer.Context, project_dir: ProjectDirOption = None, as_json: JsonOption = False
) -> None:
    """Queue what happened since the last run and post every due delivery (the loop's work)."""
    from cxops.webhooks.run import send_webhooks

    project = project_context(ctx, project_dir)
    if not project.settings.webhooks:
        raise ConfigError(
            "no webhooks configured: expected [[tool.cxops.webhooks]] tables in pyproject.toml "
            "(or CXOPS_WEBHOOKS); see docs/webhooks.md"
        )
    run = send_webhooks(project.settings, project.store)
    if as_json:
        print_json(run.as_dict())
        return
    for endpoint in run.endpoints:
        line = (
            f"{endpoint.endpoint}: queued {endpoint.queued}, delivered {endpoint.delivered}, "
            f"failed {endpoint.failed}, dead {endpoint.dead}"
        )
        if endpoint.disabled:
            line += " (disabled: `cxops webhooks retry --endpoint` enables it)"
        typer.echo(line + (f"; {endpoint.error}" if endpoint.error else ""))


@webhooks_app.command("status")
def status_command(
    ctx: typer.Context, project_dir: ProjectDirOption = None, as_json: JsonOption = False
) -> None:
    """Per endpoint: delivered, pending, failing, dead, and the last error."""
    from cxops.webhooks.admin import webhook_status

    project = project_context(ctx, project_dir)
    listed = webhook_status(project.settings, project.store)
    if as_json:
        print_json(listed)
        return
    if not listed:
        typer.echo("no webhook endpoints configured")
    for entry in listed:
        note = "" if entry["configured"] else " (no longer configured)"
        typer.echo(
            f"{entry['endpoint']}{note}: delivered {entry['delivered']}, pending "
            f"{entry['pending']} (failing {entry['failing']}), dead {entry['dead']}, "
            f"erased {entry['erased']}"
        )
        if entry["disabled"]:
            typer.echo(f"  disabled: {entry['disabled']['reason']}")
        if entry["error"]:
            typer.echo(f"  last error: {entry['error']}")


EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint", help="The endpoint's URL (or env:NAME) as `status` shows it."),
]
AllOption = Annotated[bool, typer.Option("--all", help="Every endpoint's dead letters.")]


@webhooks_app.command("retry")
def retry_command(
    ctx: typer.Context,
    endpoint: EndpointOption = None,
    all_endpoints: AllOption = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Dead letters back to pending (attempts from the start); a disabled endpoint enabled."""
    from cxops.webhooks.admin import retry_dead_letters

    if (endpoint is None) == (not all_endpoints):
        raise ConfigError("expected either --endpoint URL or --all")
    project = project_context(ctx, project_dir)
    count = retry_dead_letters(
        project.settings, project.store, endpoint=endpoint, now=project.settings.clock()
    )
    if as_json:
        print_json({"endpoint": endpoint, "retried": count})
        return
    where = endpoint or "every endpoint"
    typer.echo(
        f"{count} dead letters of {where} back to pending: the next `webhooks send` posts them"
    )
