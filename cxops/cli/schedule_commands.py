"""Commands for running on a schedule: `deploy`, `up`, `init`, `status`.

Thin: each parses, calls one function of `cxops.schedule`, prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxops.cli.app import JsonOption, ProjectDirOption, app, console, print_json, project_context


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if prefect.yaml is out of date (CI)."),
    ] = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the project's prefect.yaml from its surveys: a deployment per wave and loop flow."""
    from cxops.schedule.deploy import deploy_project

    settings = project_context(ctx, project_dir).settings
    result = deploy_project(settings.project_dir, settings.surveys_path, check=check)
    if as_json:
        print_json(
            {"path": str(result.path), "changed": result.changed, "deployments": list(result.names)}
        )
    elif check:
        state = "out of date: run `cxops deploy`" if result.changed else "up to date"
        console().print(f"{result.path}: {state} ({len(result.names)} deployments)")
    else:
        state = "written" if result.changed else "unchanged"
        console().print(f"{result.path}: {state}; deployments: {', '.join(result.names)}")
    if check and result.changed:
        raise typer.Exit(1)


@app.command("up")
def up_command(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port of the collector.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    prefect_port: Annotated[
        int | None,
        typer.Option("--prefect-port", help="Port of the local Prefect API (default: a free one)."),
    ] = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """The collector, a local Prefect API and every schedule, until Ctrl-C.

    While it runs, `cxops run`, `followups` and `digest` in this project use its API,
    and links in emails point at its collector unless CXOPS_PUBLIC_URL is set.
    """
    from cxops.schedule.up import run_until_stopped, start_up

    settings = project_context(ctx, project_dir).settings
    out = console()
    up = start_up(
        settings.project_dir,
        host=host,
        port=port,
        prefect_port=prefect_port,
        public_url=settings.public_url if "public_url" in settings.model_fields_set else None,
        say=out.print,
    )
    out.print(
        f"up: collector {up.api.collector_url} (links in emails use {up.api.public_url}) · "
        f"Prefect API {up.api.url} (UI {up.api.url.removesuffix('/api')}) · "
        "logs in .cxops/logs/ · Ctrl-C stops"
    )
    code = run_until_stopped(up, say=out.print)
    if code:
        raise typer.Exit(code)


@app.command("init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="The new project's directory.")],
    force: Annotated[
        bool, typer.Option("--force", help="Write into a directory that is not empty.")
    ] = False,
) -> None:
    """A new project: example surveys of each kind, sample data, .env.example, prefect.yaml."""
    from cxops.schedule.init import init_project

    made = init_project(directory, force=force)
    out = console()
    out.print(f"new cxops project in {directory}: {len(made.written)} files")
    for path in made.written:
        out.print(f"  {path}")
    out.print(f"git: {made.git}")
    out.print(
        f"next: cd {directory} && cxops validate && cxops plan nps && cxops preview nps "
        "&& cxops run nps --dry-run"
    )


@app.command("status")
def status_command(
    ctx: typer.Context, project_dir: ProjectDirOption = None, as_json: JsonOption = False
) -> None:
    """Each survey and its next run, open waves, open and overdue tasks, `up` or a server."""
    from cxops.schedule.status import project_status
    from cxops.spec import load_surveys

    settings = project_context(ctx, project_dir).settings
    surveys = (
        load_surveys(settings.surveys_path, project_dir=settings.project_dir)
        if settings.surveys_path.is_dir()
        else []
    )
    status = project_status(settings, surveys)
    if as_json:
        print_json(status)
        return
    out = console()
    for survey in status["surveys"]:
        out.print(
            f"{survey['survey']:28} {survey['kind']:10} {survey['schedule']:40} "
            f"next {survey['next_run'] or '-'}"
        )
        if "recruitment" in survey:
            r = survey["recruitment"]
            out.print(
                f"  recruiting: invited {r['invited']}, accepted {r['accepted']}, booked "
                f"{r['booked']}, completed {r['completed']} of goal {r['goal']}"
                + (" (goal reached)" if r["goal_reached"] else "")
            )
    for wave in status["open_waves"]:
        reminders = ", ".join(f"reminder {k}: {n}" for k, n in wave["reminders_sent"].items())
        out.print(
            f"open wave {wave['survey']} {wave['label'].removeprefix('wave ')} ({wave['status']}): sent {wave['sent']}, "
            f"in doubt {wave['in_doubt']}, failed {wave['failed']}, pending {wave['pending']}"
            + (f"; {reminders}" if reminders else "")
        )
        if wave.get("paused"):
            paused = wave["paused"]
            out.print(
                f"  paused by the deliverability breaker at {paused['at']}: {paused['why']}; "
                f"once decided, `{paused['resume']}` goes on"
            )
        held = ", ".join(f"{reason} {count}" for reason, count in wave.get("held", {}).items())
        if held:
            out.print(f"  waiting or skipped because of a gate: {held}")
    for row in status["waiting"]:
        step = "invitations" if row["step"] == 0 else f"reminder {row['step']}"
        why = f", {row['held']}" if row["held"] else ""
        out.print(
            f"waiting {row['survey']} {row['wave']} {step}{why}: {row['count']} due from "
            f"{row['earliest']} until {row['latest']}"
        )
    for wave in status["closed_waves"]:
        rate = wave.get("response_rate")
        out.print(
            f"closed wave {wave['survey']} {wave['label'].removeprefix('wave ')}: {wave.get('answered', 0)} of "
            f"{wave.get('invited', 0)} answered" + (f" ({rate} %)" if rate is not None else "")
        )
    for endpoint, dead in status["webhook_dead_letters"].items():
        out.print(
            f"webhook dead letters {endpoint}: {dead} (`cxops webhooks status` says why; "
            f"`cxops webhooks retry --endpoint {endpoint}` sends them again)"
        )
    tasks = status["tasks"]
    out.print(f"tasks: {tasks['open']} open, {tasks['overdue']} overdue · store {status['store']}")
    up, server = status["prefect"]["up"], status["prefect"]["server"]
    out.print(f"cxops up: {up['url'] + ' (pid ' + str(up['pid']) + ')' if up else 'not running'}")
    if server:
        state = "reachable" if server["reachable"] else "NOT reachable"
        out.print(f"Prefect API {server['url']}: {state}")
    background = status["prefect"]["background"]
    out.print(
        f"background Prefect API: {background['url']} (pid {background['pid']}, started "
        f"{background['started']}, idle until {background['idle_until']})"
        if background
        else "background Prefect API: not running"
    )


api_app = typer.Typer(
    help="The project's background Prefect API (started by `run`, `remind`, `followups`, "
    "`digest`; stopped after CXOPS_PREFECT_IDLE_MINUTES unused).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(api_app, name="api")


@api_app.command("stop")
def api_stop_command(ctx: typer.Context, project_dir: ProjectDirOption = None) -> None:
    """Stop the project's background Prefect API now (the next command starts another)."""
    from cxops.schedule.background_api import stop_background_api

    settings = project_context(ctx, project_dir).settings
    stopped = stop_background_api(settings.project_dir.resolve())
    console().print(
        f"stopped the background Prefect API {stopped.url} (pid {stopped.pid})"
        if stopped
        else "no background Prefect API runs for this project"
    )
