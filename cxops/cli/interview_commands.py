"""`cxops interviews status|list|mark|pay` and `cxops export incentives SURVEY`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, project_context
from cxops.cli.collect_commands import export_app

if TYPE_CHECKING:
    from cxops.project import ProjectContext
    from cxops.spec.models import Survey

interviews_app = typer.Typer(
    help="Interview studies: recruitment progress, bookings, incentives.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(interviews_app, name="interviews")

SurveyArgument = Annotated[str, typer.Argument(help="Interview survey id or file.")]
RefArgument = Annotated[
    str, typer.Argument(help="The invitation's reference (or its last 6+ characters).")
]
INCENTIVE_COLUMNS = (
    "ref",
    "survey",
    "contact_key",
    "email",
    "status",
    "completed_at",
    "incentive",
    "incentive_amount",
    "incentive_currency",
    "incentive_status",
    "paid_at",
    "year",
    "person_year_total",
)


def _interview_survey(name: str, project: ProjectContext) -> Survey:
    from cxops.errors import ConfigError

    survey = project.surveys.find(name)
    if survey.interview is None:
        raise ConfigError(f"survey {survey.id!r} is not an interview (kind: {survey.kind})")
    return survey


def _all_surveys(project: ProjectContext) -> list[Survey]:
    from cxops.policy.history import other_surveys

    return other_surveys(project.settings)[0]


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


@interviews_app.command("status")
def status_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Invited, accepted, booked, completed and the goal of one study."""
    from cxops.interviews.service import recruitment

    project = project_context(ctx, project_dir)
    spec = _interview_survey(survey, project)
    state = recruitment(project.store, spec)
    if as_json:
        print_json({"survey": spec.id, **state.as_dict()})
        return
    _out(f"{spec.id}: {state.line()}")


@interviews_app.command("list")
def list_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everyone who answered the study's invitation: reference, status, booking, incentive."""
    from cxops.interviews.service import interview_list

    project = project_context(ctx, project_dir)
    spec = _interview_survey(survey, project)
    rows = interview_list(project.store, spec, project.settings.clock(), status)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        when = f" starts {row['starts_at'][:16]}" if row["starts_at"] else ""
        _out(
            f"{row['ref']}  {row['status']:<12} {row['contact_key']}  {row['email']}{when}"
            f"  incentive {row['incentive_status']}"
        )


@interviews_app.command("mark")
def mark_command(
    ctx: typer.Context,
    ref: RefArgument,
    status: Annotated[str, typer.Argument(help="booked, completed, no-show or cancelled.")],
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a booking, an interview done, a no-show or a cancellation (these free a place)."""
    from cxops.interviews.service import mark

    project = project_context(ctx, project_dir)
    row = mark(project.store, _all_surveys(project), ref, status, project.settings.clock())
    if as_json:
        print_json(row)
        return
    owed = " (incentive owed)" if row["incentive_status"] == "owed" else ""
    _out(f"{row['ref']} ({row['survey']}, {row['email']}): {row['status']}{owed}")


@interviews_app.command("pay")
def pay_command(
    ctx: typer.Context,
    ref: RefArgument,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record that the incentive owed for a completed interview was paid."""
    from cxops.interviews.service import pay, person_year_total

    project = project_context(ctx, project_dir)
    now = project.settings.clock()
    row = pay(project.store, _all_surveys(project), ref, now)
    totals = person_year_total(project.store, row["email"], now.year)
    if as_json:
        print_json({**row, "person_year_total": totals})
        return
    total = ", ".join(f"{amount:g} {currency}".strip() for currency, amount in totals.items())
    _out(
        f"{row['ref']}: paid {row['incentive']} to {row['email']}; "
        f"{now.year} total for them: {total or 'no amounts known'}"
    )


@export_app.command("incentives")
def export_incentives_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Every incentive owed or paid in SURVEY, with each person's total in that year."""
    from cxops.errors import ConfigError
    from cxops.export import write_csv, write_jsonl
    from cxops.interviews.service import incentive_rows

    if fmt not in ("csv", "jsonl"):
        raise ConfigError(f"--format: expected csv or jsonl, found {fmt!r}")
    project = project_context(ctx, project_dir)
    spec = _interview_survey(survey, project)
    rows = list(incentive_rows(project.store, spec, project.settings.clock()))
    handle = sys.stdout if out is None else out.open("w", encoding="utf-8", newline="")
    try:
        if fmt == "csv":
            write_csv(rows, INCENTIVE_COLUMNS, handle)
        else:
            write_jsonl(rows, handle)
    finally:
        if out is not None:
            handle.close()
    if out is not None:
        _out(f"{len(rows)} incentives written to {out}")
