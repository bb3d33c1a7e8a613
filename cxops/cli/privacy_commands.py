"""Privacy requests: `cxops forget EMAIL` and `cxops export person EMAIL`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, settings_for
from cxops.cli.collect_commands import export_app

EmailArgument = Annotated[str, typer.Argument(help="The person's email address.")]


def _context(project_dir: Path | None) -> tuple[Any, Any, list[Path]]:
    from cxops.privacy.subject import Subject
    from cxops.store.db import open_store

    settings = settings_for(project_dir)
    folders = [settings.outbox_path, settings.project_dir / "preview"]
    return settings, (Subject, open_store(settings.store_url)), folders


def _surveys(settings: Any) -> dict[str, Any]:
    from cxops.spec import project_surveys

    return project_surveys(settings.surveys_path, settings.project_dir, checks=False).surveys


def _free_text(surveys: dict[str, Any]) -> dict[str, frozenset[str]]:
    return {
        survey_id: frozenset(q.id for q in survey.questions if q.type == "text")
        for survey_id, survey in surveys.items()
    }


def _successors(surveys: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(survey, rule) -> who takes over an erased assignee's open tasks of that rule."""
    return {
        (survey_id, survey.rule_id(index)): taker
        for survey_id, survey in surveys.items()
        for index, rule in enumerate(survey.followup)
        if (taker := rule.fallback or survey.owner)
    }


@app.command("forget")
def forget_command(
    email: EmailArgument, project_dir: ProjectDirOption = None, as_json: JsonOption = False
) -> None:
    """Erase a person's personal data from the store and the outbox (answers stay, anonymous)."""
    from cxops.privacy.erase import forget_person

    settings, (subject_type, store), folders = _context(project_dir)
    try:
        subject = subject_type.of(email, settings.signing_key())
        surveys = _surveys(settings)
        report = forget_person(
            store,
            subject,
            now=settings.clock(),
            free_text=_free_text(surveys),
            folders=folders,
            reports=settings.project_dir / "reports",
            successors=_successors(surveys),
        )
    finally:
        store.dispose()
    if as_json:
        print_json(report.as_dict())
        return
    if not report.changed:
        said = "already erased" if report.already_erased else "nothing stored"
        typer.echo(
            f"{said}: nothing left to erase (erasure {report.subject[:16]}; never contacted again)"
        )
    else:
        erased = ", ".join(
            f"{name.replace('_', ' ')} {count}" for name, count in report.counts.items() if count
        )
        typer.echo(
            f"erased {erased}; recorded as erasure {report.subject[:16]} (no address kept): "
            "never contacted again"
        )
    for path in report.reports:
        typer.echo(f"removed report {path}: it quoted them (`cxops report` makes it again)")
    if report.kept_by:
        pids = ", ".join(str(pid) for pid in report.kept_by)
        typer.echo(
            "warning: PostgreSQL transactions open since before the erasure (pid "
            f"{pids}) keep old row versions in the table files; once they have ended, "
            "`cxops forget` this address again to rewrite the tables",
            err=True,
        )


@export_app.command("person")
def export_person_command(email: EmailArgument, project_dir: ProjectDirOption = None) -> None:
    """Everything stored about a person, as JSON (a subject-access request)."""
    from cxops.privacy.access import person_record

    settings, (subject_type, store), folders = _context(project_dir)
    try:
        subject = subject_type.of(email, settings.signing_key())
        print_json(person_record(store, subject, folders=folders))
    finally:
        store.dispose()
