"""`cxops why EMAIL [SURVEY]`, and how `cxops plan` lists who the contact policy held back."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, project_context

#: How many held-back people the terminal lists; --json lists the first 1,000.
HELD_ON_SCREEN = 20


def print_held_back(held: list[dict[str, Any]], *, excluded: dict[str, int]) -> None:
    """The people the contact policy held back, with the rule and until when."""
    from rich.markup import escape
    from rich.table import Table

    total = sum(
        count
        for reason, count in excluded.items()
        if reason == "contact_cap" or reason.startswith(("policy:", "priority:"))
    )
    shown = held[:HELD_ON_SCREEN]
    table = Table(
        title=f"held back by the contact policy ({len(shown)} of {total} shown, "
        "`cxops why EMAIL` explains one)",
        title_justify="left",
        show_edge=False,
    )
    for column in ("key", "email", "rule", "until"):
        table.add_column(column)
    for row in shown:
        until = row["until"][:16].replace("T", " ") if row["until"] else "while it applies"
        table.add_row(escape(row["key"]), escape(row["email"]), escape(row["rule"]), until)
    _console().print(table)


@app.command("why")
def why_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The person's email address.")],
    survey: Annotated[
        str | None, typer.Argument(help="Survey file or id (default: every survey).")
    ] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Explain one person: each past invitation, and what holds them back, until when."""
    from cxops.policy.explain import explain_person
    from cxops.policy.history import other_surveys, project_policy
    from cxops.wave.ids import wave_id_for

    project = project_context(ctx, project_dir)
    settings = project.settings
    everyone, _ = other_surveys(settings)
    chosen = [project.surveys.find(survey)] if survey else everyone
    policy = project_policy(settings)
    explanation = explain_person(
        email,
        chosen,
        everyone,
        settings,
        policy,
        project.existing_store(),  # `why` creates no store
        wave_for=lambda spec: wave_id_for(spec.schedule, settings.clock()),
    )
    if as_json:
        print_json(explanation.as_dict())
        return
    from rich.markup import escape

    out = _console()
    for line in explanation.lines():
        out.print(escape(line))


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)
