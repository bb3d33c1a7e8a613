"""Commands: `followups`, `digest`, `tasks` (list, `--summary`, `close`), `export tasks`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from cxops.settings import Settings
    from cxops.store.tasks import StatusFilter

from cxops.cli.app import (
    FormatOption,
    JsonOption,
    OutOption,
    ProjectDirOption,
    SurveyArgument,
    app,
    console,
    escape,
    export_survey,
    print_json,
    project_context,
    use_flow_api,
)
from cxops.cli.collect_commands import export_app

tasks_app = typer.Typer(
    help="Follow-up tasks: list them (overdue first), summarize the loop, close one.",
    no_args_is_help=False,
    rich_markup_mode=None,
)
app.add_typer(tasks_app, name="tasks")

OUTCOME_HELP = "contacted, resolved, no response or not needed"


def _run_flow(settings: Settings, name: str, **parameters: Any) -> dict[str, Any]:
    from cxops.wave.run import configure_prefect_api

    use_flow_api(settings)
    configure_prefect_api(settings)
    from cxops.followup.flows import digest_flow, followups_flow

    chosen = followups_flow if name == "followups" else digest_flow
    summary: dict[str, Any] = chosen(project_dir=str(settings.project_dir), **parameters)
    return summary


@app.command("followups")
def followups_command(
    ctx: typer.Context,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Re-evaluate every answer under the current rules: backfill new tasks, "
            "withdraw open ones that no longer match.",
        ),
    ] = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Turn new answers into follow-up tasks and escalate overdue ones (a Prefect flow run)."""
    summary = _run_flow(project_context(ctx, project_dir).settings, "followups", replay=replay)
    if as_json:
        print_json(summary)
        return
    out = console()
    for run in summary["surveys"]:
        out.print(
            f"{run['survey']}: {run['evaluated']} answers looked at, {run['created']} tasks created, "
            f"{run['reopened']} reopened, {run['withdrawn']} withdrawn, "
            f"{run['reversioned']} moved to a new rule version, {run['failed']} rule errors"
        )
        for failure in run["failures"][:10]:
            out.print(
                f"  [yellow]skipped[/] response {failure['response']} rule {failure['rule']}: "
                + escape(failure["error"])
            )
    for path, reason in summary["skipped_surveys"].items():
        out.print(f"[yellow]skipped survey file[/] {escape(path)}: {escape(reason)}")
    esc, hooks = summary["escalations"], summary["webhooks"]
    emails = sum(1 for email in esc["emails"] if email["status"] == "sent")
    out.print(
        f"escalations sent: {esc['sent']} (in {emails} email{'' if emails == 1 else 's'}), "
        f"failed: {esc['failed']}; webhooks sent: {hooks['sent']}, "
        f"to retry: {hooks['retry']}, failed: {hooks['failed']}"
    )
    out.print(f"open tasks: {summary['open']}, overdue: {summary['overdue']}")


@app.command("digest")
def digest_command(
    ctx: typer.Context,
    timezone: Annotated[
        str, typer.Option("--timezone", help="Whose calendar day the digest is for.")
    ] = "UTC",
    resend_in_doubt: Annotated[
        bool,
        typer.Option(
            "--resend-in-doubt",
            help="Send again the day's digests that may have left (a run died while sending).",
        ),
    ] = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send each assignee one email with their open tasks, at most once a day (a Prefect flow run)."""
    _check_zone(timezone)
    settings = project_context(ctx, project_dir).settings
    summary = _run_flow(settings, "digest", timezone=timezone, resend_in_doubt=resend_in_doubt)
    if as_json:
        print_json(summary)
        return
    out = console()
    for entry in summary["sent"]:
        out.print(
            f"digest sent to {entry['assignee']}: {entry['tasks']} open, {entry['overdue']} overdue"
        )
    for assignee in summary["already_sent"]:
        out.print(f"digest for {assignee} already sent on {summary['day']}")
    for assignee in summary["in_doubt"]:
        out.print(
            f"[yellow]digest for {escape(assignee)} in doubt[/]: it may have left on "
            f"{summary['day']} (a run died while sending it, or the channel did not say); "
            "not sent again (--resend-in-doubt sends it)"
        )
    for assignee in summary["being_sent"]:
        out.print(f"digest for {escape(assignee)} is being sent by another run")
    for entry in summary["failed"]:
        out.print(f"[red]digest to {escape(entry['assignee'])} not sent[/] ({entry['status']})")
    told = ("sent", "already_sent", "in_doubt", "being_sent", "failed")
    if not any(summary[part] for part in told):
        out.print("nobody has open tasks: no digest sent")
    else:
        out.print(f"outbox: {settings.outbox_path / '_digests' / summary['day']}")


@tasks_app.callback(invoke_without_command=True)
def tasks_command(
    ctx: typer.Context,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="Only this person's tasks.")
    ] = None,
    status: Annotated[
        str, typer.Option("--status", help="open, done, overdue, snoozed, withdrawn or all.")
    ] = "open",
    survey: Annotated[
        str | None, typer.Option("--survey", help="Only this survey's tasks (id or file).")
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Loop measures by survey, segment and assignee.")
    ] = False,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="Show times in this zone (default: the surveys' zone, as their emails do; "
            "UTC when they differ). The table's header names it.",
        ),
    ] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """List follow-up tasks, overdue first (`cxops tasks close ID` closes one)."""
    if ctx.invoked_subcommand is not None:
        return
    chosen = _status(status)
    if timezone is not None:
        _check_zone(timezone)
    from cxops.followup.measures import loop_measures
    from cxops.followup.tasks import list_task_rows

    project = project_context(ctx, project_dir)
    survey_id = project.surveys.find(survey, checks=False).id if survey else None
    surveys = project.surveys.surveys(checks=False).surveys
    now = project.settings.clock()
    if summary:
        measures = loop_measures(project.store, surveys, now)
        if as_json:
            print_json(measures)
        else:
            _print_measures(measures)
        return
    rows = list_task_rows(
        project.store, surveys, now, status=chosen, assignee=assignee, survey_id=survey_id
    )
    if as_json:
        print_json(rows)
        return
    from cxops.cli.task_table import listing_zone, print_task_tables

    out = console()
    if not rows:
        out.print("no tasks")
        return
    zones = (surveys[r["survey"]].timezone if r["survey"] in surveys else "UTC" for r in rows)
    print_task_tables(out, rows, listing_zone(timezone, zones))


def _check_zone(timezone: str) -> None:
    from cxops.errors import CxopsError
    from cxops.timezones import time_zone

    try:
        time_zone(timezone)
    except ValueError as exc:
        raise CxopsError(f"--timezone: {exc}") from None


STATUSES: dict[str, StatusFilter] = {
    "open": "open",
    "done": "done",
    "overdue": "overdue",
    "snoozed": "snoozed",
    "withdrawn": "withdrawn",
    "all": "all",
}


def _status(value: str) -> StatusFilter:
    if value not in STATUSES:
        raise typer.BadParameter(
            f"expected open, done, overdue, snoozed, withdrawn or all, found {value!r}",
            param_hint="--status",
        )
    return STATUSES[value]


def _print_measures(measures: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from cxops.followup.measures import COLUMNS, cell

    out = console()
    sections = [
        ("overall", {"all": measures["overall"]}),
        ("by survey", measures["by_survey"]),
        ("by segment", measures["by_segment"]),
        ("by assignee", measures["by_assignee"]),
    ]
    for title, groups in sections:
        table = Table(title=title, title_justify="left")
        table.add_column("group")
        for _, label in COLUMNS:
            table.add_column(label, justify="right")
        for name, values in groups.items():
            table.add_row(Text(name), *(Text(cell(values[key])) for key, _ in COLUMNS))
        out.print(table)


@tasks_app.command("close")
def close_command(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(help="The task's id (see `cxops tasks`).")],
    outcome: Annotated[str, typer.Option("--outcome", help=OUTCOME_HELP)],
    note: Annotated[str | None, typer.Option("--note", help="What happened.")] = None,
    step: Annotated[
        list[str] | None,
        typer.Option(
            "--step",
            help="A playbook step done (its number from 1, or its text); repeatable. "
            "resolved needs every step, or a note saying why not.",
        ),
    ] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close an open task with an outcome and a note, ticking its playbook steps."""
    from cxops.followup.tasks import close_task

    project = project_context(ctx, project_dir)
    now = project.settings.clock()
    result = close_task(project.store, task_id, outcome, note, now, step or [])
    if as_json:
        print_json(result)
        return
    console().print(f"task {result['id']} closed: {result['outcome']}")


@tasks_app.command("assign")
def assign_command(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(help="The task's id (see `cxops tasks`).")],
    email: Annotated[str, typer.Argument(help="Who takes it over.")],
    note: Annotated[str | None, typer.Option("--note", help="Why (kept with the task).")] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give an open task to someone else; they get one email about it at once."""
    from cxops.followup.tasks import assign_task

    project = project_context(ctx, project_dir)
    settings = project.settings
    store, channel = project.store, project.channel
    result = assign_task(settings, store, channel, task_id, email, note, settings.clock())
    if as_json:
        print_json(result.as_dict())
        return
    told = {
        "sent": "told by email",
        "already_sent": "already told",
        "in_doubt": "whether the email left is not known; not sent again on its own",
        "being_sent": "another run is sending the email",
    }.get(result.told, f"email {result.told}")
    console().print(f"task {result.id} assigned to {escape(result.assignee)} ({told})")


@tasks_app.command("snooze")
def snooze_command(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(help="The task's id (see `cxops tasks`).")],
    until: Annotated[
        str,
        typer.Option(
            "--until", help="YYYY-MM-DD (its start in the survey's time zone) or ISO time."
        ),
    ],
    note: Annotated[str | None, typer.Option("--note", help="Why (kept with the task).")] = None,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Snooze an open task: out of the digest and no escalation until then."""
    from cxops.followup.tasks import snooze_task

    project = project_context(ctx, project_dir)
    settings = project.settings
    result = snooze_task(settings, project.store, task_id, until, note, settings.clock())
    if as_json:
        print_json(result)
        return
    console().print(f"task {result['id']} snoozed until {result['snoozed_until']}")


@export_app.command("tasks")
def export_tasks_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    fmt: FormatOption = "csv",
    out: OutOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Every follow-up task of SURVEY: id, survey, contact_key, rule, assignee, due, priority, status, outcome."""
    from cxops.followup.export import export_tasks

    export_survey(
        ctx,
        survey,
        fmt,
        out,
        project_dir,
        "tasks",
        lambda store, found, chosen, handle, settings: export_tasks(
            store, found, chosen, handle, settings.clock()
        ),
    )
