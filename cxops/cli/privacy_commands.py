"""Privacy requests: `cxops forget EMAIL` and `cxops export person EMAIL`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, project_context
from cxops.cli.collect_commands import export_app

if TYPE_CHECKING:
    from cxops.privacy.subject import Subject
    from cxops.project import ProjectContext
    from cxops.spec.models import Survey

EmailArgument = Annotated[str, typer.Argument(help="The person's email address.")]


def _folders(project: ProjectContext) -> list[Path]:
    """The folders of files that name people: the outbox and the previews."""
    return [project.settings.outbox_path, project.settings.project_dir / "preview"]


def _subject(project: ProjectContext, email: str) -> Subject:
    from cxops.privacy.subject import Subject

    return Subject.of(email, project.settings.signing_key())


def _surveys(project: ProjectContext) -> dict[str, Survey]:
    return project.surveys.surveys(checks=False).surveys


def _free_text(surveys: dict[str, Survey]) -> dict[str, frozenset[str]]:
    return {
        survey_id: frozenset(q.id for q in survey.questions if q.type == "text")
        for survey_id, survey in surveys.items()
    }


def _successors(surveys: dict[str, Survey]) -> dict[tuple[str, str], str]:
    """(survey, rule) -> who takes over an erased assignee's open tasks of that rule."""
    return {
        (survey_id, survey.rule_id(index)): taker
        for survey_id, survey in surveys.items()
        for index, rule in enumerate(survey.followup)
        if (taker := rule.fallback or survey.owner)
    }


@app.command("forget")
def forget_command(
    ctx: typer.Context,
    email: EmailArgument,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase a person's personal data from the store and the outbox (answers stay, anonymous)."""
    from cxops.crm.project import erase_in_crm
    from cxops.privacy.erase import forget_person
    from cxops.sync.project import erase_in_destinations

    project = project_context(ctx, project_dir)
    surveys = _surveys(project)
    subject = _subject(project, email)
    report = forget_person(
        project.store,
        subject,
        now=project.settings.clock(),
        free_text=_free_text(surveys),
        folders=_folders(project),
        reports=project.settings.project_dir / "reports",
        successors=_successors(surveys),
        webhooks=project.settings.webhooks,
    )
    # Every warehouse a sync wrote: synced and rewritten now, or at its next sync.
    destinations = erase_in_destinations(project)
    # The CRM properties cxops wrote on their contact: cleared now, or by the next push.
    crms = erase_in_crm(project, subject.digest)
    if as_json:
        print_json(
            {
                **report.as_dict(),
                "sync_destinations": [d.as_dict() for d in destinations],
                "crm": [c.as_dict() for c in crms],
            }
        )
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
    for outcome in destinations:
        if outcome.status == "erased":
            typer.echo(f"erased them in {outcome.destination} (rows replaced, files rewritten)")
        elif outcome.status == "kept":
            typer.echo(f"warning: {outcome.destination}: {outcome.detail}", err=True)
        else:
            typer.echo(
                f"warning: {outcome.destination} unreachable ({outcome.detail}): the next "
                "`cxops sync` into it erases them",
                err=True,
            )
    for crm in crms:
        if crm.status == "cleared":
            typer.echo(f"cleared the properties cxops wrote on their {crm.crm} contact")
        else:
            typer.echo(
                f"warning: {crm.crm}: {crm.detail}: the next `cxops crm push` clears the "
                "properties cxops wrote on their contact",
                err=True,
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
def export_person_command(
    ctx: typer.Context, email: EmailArgument, project_dir: ProjectDirOption = None
) -> None:
    """Everything stored about a person, as JSON (a subject-access request)."""
    from cxops.crm.project import crm_sent
    from cxops.privacy.access import person_record
    from cxops.sync.project import destinations_sent

    project = project_context(ctx, project_dir)
    subject = _subject(project, email)
    record = person_record(project.store, subject, folders=_folders(project))
    # Where `cxops sync` sent the store's rows (theirs among them when they were invited).
    record["sync_destinations"] = destinations_sent(project) if record["sends"] else []
    # The CRM contact cxops wrote their latest NPS onto (`cxops crm push`).
    record["crm_destinations"] = crm_sent(project, subject.digest)
    print_json(record)
