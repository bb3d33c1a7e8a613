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

EmailArgument = Annotated[str, typer.Argument(help="The person's email address.")]


def _folders(project: ProjectContext) -> list[Path]:
    """The folders of files that name people: the outbox and the previews."""
    return [project.settings.outbox_path, project.settings.project_dir / "preview"]


def _subject(project: ProjectContext, email: str) -> Subject:
    from cxops.privacy.subject import Subject

    return Subject.of(email, project.settings.signing_key())


def _free_text(project: ProjectContext) -> dict[str, frozenset[str]]:
    surveys = project.surveys.surveys(checks=False)
    return {
        survey_id: frozenset(q.id for q in survey.questions if q.type == "text")
        for survey_id, survey in surveys.surveys.items()
    }


@app.command("forget")
def forget_command(
    ctx: typer.Context,
    email: EmailArgument,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase a person's personal data from the store and the outbox (answers stay, anonymous)."""
    from cxops.privacy.erase import forget_person

    project = project_context(ctx, project_dir)
    report = forget_person(
        project.store,
        _subject(project, email),
        now=project.settings.clock(),
        free_text=_free_text(project),
        folders=_folders(project),
    )
    if as_json:
        print_json(report.as_dict())
        return
    if not report.changed:
        said = "already erased" if report.already_erased else "nothing stored"
        typer.echo(f"{said}: nothing left to erase (erasure {report.subject[:16]})")
    else:
        erased = ", ".join(f"{name} {count}" for name, count in report.counts.items() if count)
        typer.echo(f"erased {erased}; recorded as erasure {report.subject[:16]} (no address kept)")
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
    from cxops.privacy.access import person_record

    project = project_context(ctx, project_dir)
    subject = _subject(project, email)
    print_json(person_record(project.store, subject, folders=_folders(project)))
