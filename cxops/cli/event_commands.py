"""`cxops keys create|list|revoke`: the API keys that may post to `/api/v1/events`."""

from __future__ import annotations

from typing import Annotated

import typer

from cxops.cli.app import (
    JsonOption,
    ProjectDirOption,
    app,
    console,
    escape,
    print_json,
    project_context,
)

keys_app = typer.Typer(
    help="API keys for the collector's events API (POST /api/v1/events).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(keys_app, name="keys")

NameArgument = Annotated[str, typer.Argument(help="The key's name (who uses it).")]


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: NameArgument,
    survey: Annotated[
        str | None,
        typer.Option(
            "--survey",
            help="Limit the key to this triggered survey: it may post only that survey's "
            "event type, and only that survey plans from what it posts.",
        ),
    ] = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Create a key and print it once (only a keyed hash of it is stored)."""
    from cxops.errors import ConfigError
    from cxops.store.inbound import create_key

    project = project_context(ctx, project_dir)
    settings = project.settings
    if survey is not None:
        spec = project.surveys.find(survey, checks=False)
        if spec.trigger is None:
            raise ConfigError(
                f"--survey {survey}: expected a survey with trigger: (a key posts events, "
                "which only triggered surveys answer to)"
            )
        survey = spec.id
    key = create_key(
        project.store, name, settings.signing_key(), settings.clock(), survey_id=survey
    )
    typer.echo(key)
    console().print(
        f"key {escape(name)} created: it is shown only now; send it as "
        "`Authorization: Bearer KEY` to /api/v1/events",
        style="dim",
    )


@keys_app.command("list")
def keys_list(
    ctx: typer.Context, project_dir: ProjectDirOption = None, as_json: JsonOption = False
) -> None:
    """The keys (never the keys themselves): name, survey, created, revoked."""
    from cxops.store.inbound import list_keys

    rows = list_keys(project_context(ctx, project_dir).store)
    if as_json:
        print_json(
            [
                {
                    "name": row.name,
                    "survey": row.survey_id,
                    "created_at": row.created_at.isoformat(),
                    "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                }
                for row in rows
            ]
        )
        return
    if not rows:
        typer.echo("no API keys (cxops keys create NAME)")
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "live"
        typer.echo(
            f"{row.name}\t{row.survey_id or '-'}\tcreated {row.created_at:%Y-%m-%d %H:%M}\t{state}"
        )


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context, name: NameArgument, project_dir: ProjectDirOption = None
) -> None:
    """Revoke a key: requests with it are answered 401 from now on."""
    from cxops.errors import ConfigError
    from cxops.store.inbound import revoke_key

    project = project_context(ctx, project_dir)
    if not revoke_key(project.store, name, project.settings.clock()):
        raise ConfigError(f"no API key named {name!r} (cxops keys list)")
    typer.echo(f"key {name} revoked")
