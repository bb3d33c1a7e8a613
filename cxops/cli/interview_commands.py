"""`cxops interviews status|list|mark|pay` and `cxops export incentives SURVEY`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, print_json, settings_for
from cxops.cli.collect_commands import export_app

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


def _interview_survey(name: str, settings: Any) -> Any:
    from cxops.errors import ConfigError
    from cxops.spec import find_survey

    survey = find_survey(name, settings.surveys_path, settings.project_dir)
    if survey.interview is None:
        raise ConfigError(f"survey {survey.id!r} is not an interview (kind: {survey.kind})")
    return survey


def _all_surveys(settings: Any) -> list[Any]:
    from cxops.policy.history import other_surveys

    return other_surveys(settings)[0]


def _store(settings: Any) -> Any:
    from cxops.store.db import open_store

    return open_store(settings.store_url)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


@interviews_app.command("status")
def status_command(
    survey: SurveyArgument, project_dir: ProjectDirOption = None, as_json: JsonOption = False
) -> None:
    """Invited, accepted, booked, completed and the goal of one study."""
    from cxops.interviews.service import recruitment

    settings = settings_for(project_dir)
    spec = _interview_survey(survey, settings)
    store = _store(settings)
    try:
        state = recruitment(store, spec)
    finally:
        store.dispose()
    if as_json:
        print_json({"survey": spec.id, **state.as_dict()})
        return
    _out(f"{spec.id}: {state.line()}")


@interviews_app.command("list")
def list_command(
    survey: SurveyArgument,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everyone who answered the study's invitation: reference, status, booking, incentive."""
    from sqlalchemy import select

    from cxops.interviews.service import describe, sync_interviews
    from cxops.store.models import Interview

    settings = settings_for(project_dir)
    spec = _interview_survey(survey, settings)
    store = _store(settings)
    try:
        sync_interviews(store, spec, settings.clock())
        with store.session() as session:
            query = select(Interview).where(Interview.survey_id == spec.id)
            if status:
                query = query.where(Interview.status == status.replace("-", "_"))
            rows = [describe(row) for row in session.scalars(query.order_by(Interview.id))]
    finally:
        store.dispose()
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
    ref: RefArgument,
    status: Annotated[str, typer.Argument(help="booked, completed, no-show or cancelled.")],
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a booking, an interview done, a no-show or a cancellation (these free a place)."""
    from cxops.interviews.service import mark

    settings = settings_for(project_dir)
    store = _store(settings)
    try:
        row = mark(store, _all_surveys(settings), ref, status, settings.clock())
    finally:
        store.dispose()
    if as_json:
        print_json(row)
        return
    owed = " (incentive owed)" if row["incentive_status"] == "owed" else ""
    _out(f"{row['ref']} ({row['survey']}, {row['email']}): {row['status']}{owed}")


@interviews_app.command("pay")
def pay_command(
    ref: RefArgument, project_dir: ProjectDirOption = None, as_json: JsonOption = False
) -> None:
    """Record that the incentive owed for a completed interview was paid."""
    from cxops.interviews.service import pay, person_year_total

    settings = settings_for(project_dir)
    now = settings.clock()
    store = _store(settings)
    try:
        row = pay(store, _all_surveys(settings), ref, now)
        totals = person_year_total(store, row["email"], now.year)
    finally:
        store.dispose()
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
    settings = settings_for(project_dir)
    spec = _interview_survey(survey, settings)
    store = _store(settings)
    try:
        rows = list(incentive_rows(store, spec, settings.clock()))
    finally:
        store.dispose()
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
