"""`cxops themes suggest`: keyword groups for the comments no theme matched (nothing is
written: the codebook stays in the survey file, reviewed like code)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cxops.cli.app import (
    JsonOption,
    ProjectDirOption,
    SurveyArgument,
    app,
    console,
    escape,
    print_json,
    project_context,
)

if TYPE_CHECKING:
    from cxops.analysis.theme_suggest import Suggestions
    from cxops.settings import Settings
    from cxops.spec.models import Survey

themes_app = typer.Typer(
    help="The survey's themes: keyword groups to add to its codebook.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(themes_app, name="themes")


@themes_app.command("suggest")
def themes_suggest(
    ctx: typer.Context,
    survey: SurveyArgument,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="Only this period: a wave id, or 2026-W49, 2026-11, 2026-Q4 (default: all).",
        ),
    ] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Propose themes for the comments no theme matched, as YAML to paste (writes nothing)."""
    from cxops.analysis.answer_period import parse_period
    from cxops.analysis.comment_texts import text_answers
    from cxops.analysis.theme_suggest import suggest_themes

    project = project_context(ctx, project_dir)
    spec = project.surveys.find(survey)
    chosen = parse_period(period, spec.timezone) if period else None
    answers = text_answers(project.existing_store(), spec, chosen)
    found = suggest_themes(spec.themes, answers, project.settings.min_n)
    if as_json:
        print_json(
            {"survey": spec.id, "period": chosen.text if chosen else None, **found.document()}
        )
        return
    _print(found, spec.id, chosen.text if chosen else None, _shown_path(spec, project.settings))


def _shown_path(spec: Survey, settings: Settings) -> str:
    """The survey's file, relative to the project when inside it."""
    path = spec.source_path
    if path is None:
        return f"surveys/{spec.id}.yaml"
    try:
        return str(path.resolve().relative_to(settings.project_dir.resolve()))
    except ValueError:
        return str(path)


def _print(found: Suggestions, survey_id: str, period: str | None, where: str) -> None:
    from rich.table import Table

    out = console()
    scope = f" · {period}" if period else ""
    out.print(f"[bold]Themes to consider · {escape(survey_id)}{escape(scope)}[/]")
    out.print(
        f"{found.untagged} of {found.answers} answers with comments match no theme; "
        f"a group needs at least {found.min_n} (CXOPS_MIN_N)."
    )
    if not found.themes:
        out.print("No keyword group covers enough of them: nothing to propose.")
        return
    table = Table(show_lines=True)
    table.add_column("theme")
    table.add_column("keywords")
    table.add_column("untagged answers", justify="right")
    table.add_column("languages")
    table.add_column("examples")
    for theme in found.themes:
        table.add_row(
            escape(theme.id),
            escape(", ".join(theme.keywords)),
            f"{theme.count} ({100 * theme.share:.1f}%)",
            ", ".join(theme.languages),
            escape("\n".join(f"“{quote}”" for quote in theme.examples)),
        )
    out.print(table)
    share = 100 * found.covered / found.untagged
    out.print(f"Together they cover {found.covered} of {found.untagged} ({share:.1f}%).")
    placement = "under its themes: block" if found.has_themes else "as a top-level block"
    out.print(f"Paste into {escape(where)} {placement}, review, commit:")
    typer.echo(found.yaml(), nl=False)
