"""`cxops --help` in the order of the work, in panels; `cxops --version`.

Imported by `cxops.cli` after every command module has registered its commands:
it only arranges them (order, panel), so the command modules stay as they are.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

from cxops.cli.app import app

AUTHORING, SENDING, LOOP, OPERATIONS = "Authoring", "Sending", "The loop", "Operations"
#: Command (or group) name -> panel, in the order `--help` lists them.
ORDER: dict[str, str] = {
    "validate": AUTHORING,
    "schema": AUTHORING,
    "plan": AUTHORING,
    "preview": AUTHORING,
    "why": AUTHORING,
    "run": SENDING,
    "remind": SENDING,
    "send-due": SENDING,
    "trigger": SENDING,
    "serve": SENDING,
    "up": SENDING,
    "interviews": SENDING,
    "followups": LOOP,
    "digest": LOOP,
    "tasks": LOOP,
    "report": LOOP,
    "themes": LOOP,
    "diff": LOOP,
    "export": LOOP,
    "sync": LOOP,
    "webhooks": LOOP,
    "crm": LOOP,
    "forget": LOOP,
    "deploy": OPERATIONS,
    "init": OPERATIONS,
    "status": OPERATIONS,
    "api": OPERATIONS,
    "keys": OPERATIONS,
    "settings": OPERATIONS,
    "db": OPERATIONS,
}


class WorkOrderGroup(TyperGroup):
    """Lists commands in ORDER; any command not named there comes last, by name."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(self.commands)
        rank = {name: index for index, name in enumerate(ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"cxops {version('cxops')}")
        raise typer.Exit()


def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Customer research as code: surveys in git, compiled into Prefect flows."""


def arrange(target: typer.Typer = app) -> None:
    """Panels on every command and group, the work order, `--version`."""
    infos: list[CommandInfo | TyperInfo] = [
        *target.registered_commands,
        *target.registered_groups,
    ]
    for info in infos:
        name = info.name
        if isinstance(name, str) and name in ORDER:
            info.rich_help_panel = ORDER[name]
    target.info.cls = WorkOrderGroup
    target.callback()(_main)


arrange()
