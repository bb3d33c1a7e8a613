"""Commands for one wave: plan (who, read-only), preview (render), run (send)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from cxops.settings import Settings
    from cxops.spec.models import Survey

from cxops.cli.app import (
    JsonOption,
    ProjectDirOption,
    SurveyArgument,
    app,
    console,
    print_json,
    project_context,
    use_flow_api,
)

if TYPE_CHECKING:
    from cxops.wave.due import DueSummary
    from cxops.wave.reminder_round import ReminderSummary
    from cxops.wave.summary import WaveSummary


def _wave_id(value: str | None) -> str | None:
    """`--wave` checked as it is parsed: a bad id is one line before any flow starts."""
    from cxops.wave.ids import validate_wave_id

    return None if value is None else validate_wave_id(value)


WaveOption = Annotated[
    str | None,
    typer.Option("--wave", help="Wave id (default: from the schedule and now).", callback=_wave_id),
]
ResendInDoubtOption = Annotated[
    bool, typer.Option("--resend-in-doubt", help="Send again to people whose batch was in doubt.")
]
InsecureLinksOption = Annotated[
    bool,
    typer.Option(
        "--allow-insecure-links",
        help="Send through sendgrid/smtp although CXOPS_PUBLIC_URL is not https.",
    ),
]


def print_summary(summary: WaveSummary, *, title: str, bad_rows_limit: int = 20) -> None:
    """The wave summary as the terminal shows it (plan and run)."""
    from rich.markup import escape
    from rich.table import Table

    out = console()
    out.print(f"[bold]{escape(title)}[/] · survey {summary.survey} · {escape(summary.label)}")
    figures = [
        ("audience", summary.audience),
        ("bad rows", len(summary.bad_rows)),
        ("filtered out", summary.filtered_out),
        ("excluded", sum(summary.excluded.values())),
        ("eligible", summary.eligible),
        ("sampled", summary.sampled),
    ]
    if not summary.dry_run and title != "plan":
        figures += [
            ("sent", summary.sent),
            ("in doubt", summary.in_doubt),
            ("failed", summary.failed),
        ]
    out.print("  ".join(f"{name} [bold]{value}[/]" for name, value in figures))
    if summary.by_segment:
        table = Table(title="by segment", title_justify="left", show_edge=False)
        columns = ["eligible", "sampled"] + (
            ["sent", "in_doubt", "failed"] if len(figures) > 6 else []
        )
        table.add_column("segment")
        for column in columns:
            table.add_column(column.replace("_", " "), justify="right")
        for name, counts in sorted(summary.by_segment.items()):
            table.add_row(escape(name), *(str(counts.get(column, 0)) for column in columns))
        out.print(table)
    if summary.excluded:
        table = Table(title="excluded because", title_justify="left", show_edge=False)
        table.add_column("reason")
        table.add_column("people", justify="right")
        for reason, count in summary.excluded.items():
            table.add_row(reason, str(count))
        out.print(table)
    if summary.held:
        table = Table(
            title="waiting or skipped because of a gate", title_justify="left", show_edge=False
        )
        table.add_column("reason")
        table.add_column("rows", justify="right")
        for reason, count in summary.held.items():
            table.add_row(escape(reason), str(count))
        out.print(table)
    bad_rows = summary.bad_rows
    if bad_rows:
        shown = bad_rows[:bad_rows_limit]
        table = Table(
            title=f"bad rows (skipped; {len(shown)} of {len(bad_rows)} shown, all in --json)",
            title_justify="left",
            show_edge=False,
        )
        table.add_column("row", justify="right")
        table.add_column("key")
        table.add_column("reason")
        for row in shown:
            table.add_row(str(row["row"]), escape(str(row["key"] or "")), escape(row["reason"]))
        out.print(table)
    for reason, detail in (summary.failed_reasons or {}).items():
        examples = ", ".join(detail.get("examples", []))
        out.print(f"[red]failed[/] {detail['count']}: {escape(reason)} (e.g. {escape(examples)})")
    for note in summary.notes:
        out.print(f"[yellow]note:[/] {escape(note)}")


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    project_dir: ProjectDirOption = None,
    wave: WaveOption = None,
    as_json: JsonOption = False,
    invitees: Annotated[
        bool, typer.Option("--invitees", help="List every invitee (key, segment, email).")
    ] = False,
    event: Annotated[
        Path | None,
        typer.Option(
            "--event",
            help="What one event (a JSON file) would do for a triggered survey; stores nothing.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Who would be invited now, and why not the others. Sends and writes nothing."""
    from cxops.wave.ids import WaveContext
    from cxops.wave.plan import plan_only

    project = project_context(ctx, project_dir)
    settings, spec = project.settings, project.surveys.find(survey)
    if event is not None:
        _plan_event(spec, settings, event, as_json=as_json)
        return
    from cxops.wave.variants import assignment

    context = WaveContext.begin(spec, settings, wave)
    plan = plan_only(context)
    listed: list[dict[str, Any]] = []
    sample_preview: list[dict[str, Any]] = []
    assign = assignment(spec, context.wave_id)
    per_variant: dict[str, int] = dict.fromkeys(spec.invitation.weights(), 0)
    for invitee in plan.invitees:
        entry = {
            "key": invitee.contact.key,
            "segment": invitee.segment,
            "email": invitee.contact.email,
        }
        if (variant := assign(invitee)) is not None:
            entry["variant"] = variant
            per_variant[variant] += 1
        if invitees:
            listed.append(entry)
        elif len(sample_preview) < 10:
            sample_preview.append(entry)
    summary = plan.summary()
    if invitees:
        summary = dataclasses.replace(summary, invitees=listed)
    if plan.tally.held:
        summary = dataclasses.replace(summary, held_back=plan.tally.held)
    from cxops.wave.quota_plan import quota_expectations

    quota = quota_expectations(context, plan.tally.by_segment)
    variants = _variants_plan(spec, per_variant)
    if as_json:
        extra = ({"quota": quota} if quota else {}) | ({"variants": variants} if variants else {})
        print_json(summary.as_dict() | extra)
        return
    print_summary(summary, title="plan")
    if quota:
        print_quota(quota)
    if variants:
        print_variants(variants)
    if plan.tally.held:
        from cxops.cli.policy_commands import print_held_back

        print_held_back(plan.tally.held, excluded=summary.excluded)
    from rich.markup import escape

    shown = listed or sample_preview
    if shown:
        out = console()
        out.print(f"invitees ({len(shown)} of {summary.sampled} shown):")
        for entry in shown:
            out.print(
                f"  {escape(entry['key'])}  {escape(entry['segment'])}  {escape(entry['email'])}"
            )


def _variants_plan(spec: Any, per_variant: dict[str, int]) -> dict[str, Any] | None:
    """`plan`'s variants: the split now (percent), the winner, invitees per variant."""
    invitation = spec.invitation
    if not invitation.variants:
        return None
    found: dict[str, Any] = {
        "split": {name: round(100 * w, 1) for name, w in invitation.weights().items()},
        "invitees": per_variant,
    }
    if invitation.winner is not None:
        found["winner"] = invitation.winner
    return found


def print_variants(variants: dict[str, Any]) -> None:
    """`plan`'s variants line: each variant's share of the split and its invitees."""
    from rich.markup import escape

    parts = [
        f"{escape(name)} {share:g}% ({variants['invitees'].get(name, 0)})"
        for name, share in variants["split"].items()
    ]
    winner = f" (winner: {escape(variants['winner'])})" if "winner" in variants else ""
    console().print("variants: " + ", ".join(parts) + winner)


def print_quota(quota: dict[str, Any]) -> None:
    """`plan`'s quota block (`cxops.wave.quota_plan`): per segment, what to expect."""
    from rich.markup import escape
    from rich.table import Table

    target = quota["target"]
    wanted = {"answers": "answers", "nps_margin": "± NPS points", "ci_width": "width, points"}
    rounds = quota["rounds"]
    title = f"quota ({wanted[target]})" + (
        f", rounds of {rounds['size']} every {rounds['every']}" if rounds else ""
    )
    table = Table(title=title, title_justify="left", show_edge=False)
    for column in ("segment", "invited", "response rate", "expected answers", "quota"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    if target != "answers":
        table.add_column("expected", justify="right")
    if rounds:
        table.add_column("rounds needed", justify="right")
    for name, data in quota["segments"].items():
        rate = f"{data['response_rate']:.0%}" + ("*" if data["rate_from"] == "assumed" else "")
        goal = "—" if data["quota"] is None else f"{data['quota']:g}"
        cells = [escape(name), str(data["invited"]), rate, str(data["expected_answers"]), goal]
        if target != "answers":
            cells.append(f"{data['expected_precision']:.1f}")
        if rounds:
            needed = data["rounds_needed"]
            cells.append(f"{needed} of {data['rounds']}" if needed else f"not in {data['rounds']}")
        table.add_row(*cells)
    out = console()
    out.print(table)
    if quota["assumption"]:
        out.print(f"  * {escape(quota['assumption'])}")


@app.command("preview")
def preview_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    contact: Annotated[
        list[str] | None, typer.Option("--contact", help="Contact key (repeatable).")
    ] = None,
    locale: Annotated[str | None, typer.Option("--locale", help="Render in this locale.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write NAME.html / NAME.txt / NAME.eml here.")
    ] = None,
    count: Annotated[
        int,
        typer.Option(
            "--count", min=1, max=100, help="How many sampled contacts, without --contact."
        ),
    ] = 3,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant",
            help="Render this invitation variant (default: the winner, else the first).",
        ),
    ] = None,
) -> None:
    """Render invitations for real contacts, without sending anything."""
    from cxops.wave.ids import WaveContext
    from cxops.wave.preview import preview_invitations, write_preview
    from cxops.wave.variants import preview_variant

    project = project_context(ctx, project_dir)
    settings, spec = project.settings, project.surveys.find(survey)
    spec = preview_variant(spec, variant)
    previews = preview_invitations(
        WaveContext.begin(spec, settings), keys=contact or [], locale=locale, count=count
    )
    if out is not None:
        written = write_preview(previews, out)
        if as_json:
            print_json(
                [
                    {"contact": p.contact_key, "files": [str(f) for f in files]}
                    for p, files in written
                ]
            )
            return
        for preview, files in written:
            console().print(f"{preview.contact_key}: " + ", ".join(str(f) for f in files))
        return
    if as_json:
        print_json([preview.as_dict() for preview in previews])
        return
    from rich.markup import escape

    terminal = console()
    for preview in previews:
        terminal.rule(
            f"{escape(preview.contact_key)} · {preview.locale} · {escape(preview.message.to_email)}"
        )
        terminal.print(f"[bold]Subject:[/] {escape(preview.message.subject)}")
        terminal.print(escape(preview.message.text))


def _sending(
    ctx: typer.Context,
    survey: str,
    project_dir: Path | None,
    allow_insecure_links: bool,
    dry_run: bool,
) -> tuple[Settings, Survey]:
    """Settings and survey of a command that sends; links are checked before any flow
    starts (one clear line, nothing sent)."""
    project = project_context(ctx, project_dir, allow_insecure_links=allow_insecure_links or None)
    settings, spec = project.settings, project.surveys.find(survey)
    if not dry_run:
        from cxops.channels import check_public_url

        check_public_url(settings)
    return settings, spec


@app.command("run")
def run_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and render everything; send and store nothing.")
    ] = False,
    resend_in_doubt: ResendInDoubtOption = False,
    wave: WaveOption = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Go on with a wave the deliverability breaker paused (needs --wave).",
        ),
    ] = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
    allow_insecure_links: InsecureLinksOption = False,
) -> None:
    """Run one invitation wave now, as a Prefect flow run; print the wave summary."""
    settings, spec = _sending(ctx, survey, project_dir, allow_insecure_links, dry_run)
    if resume and wave is None:
        from cxops.errors import ConfigError

        raise ConfigError(f"--resume needs the wave: `cxops run {spec.id} --wave W --resume`")
    use_flow_api(settings)
    from cxops.wave.run import run_with_progress

    summary = run_with_progress(
        spec,
        settings,
        wave=wave,
        dry_run=dry_run,
        resend_in_doubt=resend_in_doubt,
        resume=resume,
        quiet=as_json,
    )
    if as_json:
        print_json(summary.as_dict())
        return
    print_summary(summary, title="dry run" if dry_run else "wave")


@app.command("remind")
def remind_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say who is due and render their reminders; send nothing."),
    ] = False,
    resend_in_doubt: ResendInDoubtOption = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
    allow_insecure_links: InsecureLinksOption = False,
) -> None:
    """Send the reminders due now to invitees who have not answered; print the round."""
    settings, spec = _sending(ctx, survey, project_dir, allow_insecure_links, dry_run)
    if not dry_run:  # a dry run of reminders runs no flow
        use_flow_api(settings)
    from cxops.wave.run import run_reminders

    summary = run_reminders(spec, settings, dry_run=dry_run, resend_in_doubt=resend_in_doubt)
    if as_json:
        print_json(summary.as_dict())
        return
    _print_reminders(summary)


@app.command("trigger")
def trigger_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    event: Annotated[
        Path,
        typer.Option(
            "--event",
            help="One event (a JSON file) to queue, stored as POST /api/v1/events would.",
            dir_okay=False,
        ),
    ],
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue one event for a triggered survey; the next `cxops send-due` plans and sends it."""
    from datetime import UTC, datetime

    from cxops.errors import ConfigError
    from cxops.store.db import open_store
    from cxops.store.inbound import NewEvent, store_events

    project = project_context(ctx, project_dir)
    settings, spec = project.settings, project.surveys.find(survey)
    raw = _read_event_file(event)
    now = settings.now or datetime.now(UTC)
    planned = _event_plan(spec, settings, raw, now)
    if planned["error"] or (spec.trigger is not None and raw.get("type") != spec.trigger.event):
        raise ConfigError(f"{event}: {planned['reason']}")
    occurred = datetime.fromisoformat(planned["occurred_at"])
    store = open_store(settings.store_url)
    try:
        stored = store_events(
            store,
            [NewEvent(raw["id"], raw["type"], occurred, raw.get("data", {}))],
            "cli",
            now,
            survey_id=spec.id,  # queued for this survey: no other plans from it
        )
    finally:
        store.dispose()
    result = {
        "event_id": raw["id"],
        "queued": stored.accepted == 1,
        "duplicate": stored.duplicates == 1,
        "plan": planned,
    }
    if as_json:
        print_json(result)
        return
    from rich.markup import escape

    out = console()
    if result["duplicate"]:
        out.print(f"event {escape(raw['id'])} was stored before: nothing changed")
    elif planned["invited"]:
        out.print(
            f"queued event {escape(raw['id'])}: the next `cxops send-due` plans an invitation "
            f"to {escape(planned['contact']['email'])}, due at {escape(planned['due_at'])}"
        )
    else:
        out.print(
            f"queued event {escape(raw['id'])}; it would not invite: {escape(planned['reason'])}"
        )


def _read_event_file(path: Path) -> Any:
    import json

    from cxops.errors import ConfigError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the event: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: expected one event as JSON: {exc}") from None


def _event_plan(spec: Survey, settings: Settings, raw: Any, now: Any) -> dict[str, Any]:
    from cxops.audience.events import plan_event

    result: dict[str, Any] = plan_event(spec, raw, now, settings.holidays).as_dict()
    return result


@app.command("send-due")
def send_due_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what is due, by survey, wave and step; send nothing."),
    ] = False,
    project_dir: ProjectDirOption = None,
    as_json: JsonOption = False,
    allow_insecure_links: InsecureLinksOption = False,
) -> None:
    """Send every due invitation and reminder of every survey (rows that waited), as one
    Prefect flow run; print what was sent and what still waits."""
    project = project_context(ctx, project_dir, allow_insecure_links=allow_insecure_links or None)
    settings = project.settings
    if not dry_run:
        from cxops.channels import check_public_url

        check_public_url(settings)
        use_flow_api(settings)
    from cxops.wave.run import run_send_due

    summary = run_send_due(settings, dry_run=dry_run)
    if as_json:
        print_json(summary.as_dict())
        return
    _print_due(summary)


def _print_due(summary: DueSummary) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    data = summary.as_dict()
    title = "due sends (dry run)" if summary.dry_run else "due sends"
    out.print(f"[bold]{title}[/] · {data['now']}")
    figures = f"due {data['due']}"
    if not summary.dry_run:
        figures += f" · sent {data['sent']} · in doubt {data['in_doubt']} · failed {data['failed']}"
    waiting = data["waiting"]
    figures += f" · waiting {waiting['count']}"
    if waiting["count"]:
        figures += f" (from {waiting['earliest']} until {waiting['latest']})"
    out.print(figures)
    if summary.steps:
        table = Table("survey", "wave", "step", "due", "sent now", "stale", "pending after")
        for step in summary.steps:
            table.add_row(
                escape(step.survey),
                escape(step.wave),
                "invitation" if step.step == 0 else f"reminder {step.step}",
                str(step.due),
                "—" if summary.dry_run else str(step.sent_now),
                "—" if summary.dry_run else str(step.stale),
                "—" if summary.dry_run else str(step.pending),
            )
        out.print(table)
    else:
        out.print("nothing is due")
    for note in summary.notes:
        out.print(f"[yellow]note:[/] {escape(note)}")


def _print_reminders(summary: ReminderSummary) -> None:
    from rich.markup import escape
    from rich.table import Table

    from cxops.wave.summary import rate_text

    out = console()
    title = "reminders (dry run)" if summary.dry_run else "reminders"
    out.print(f"[bold]{title}[/] · survey {summary.survey} · {summary.now.isoformat()}")
    out.print(
        f"due {summary.due} · sent {summary.sent_now} · in doubt {summary.in_doubt} · "
        f"failed {summary.failed} · waiting {summary.waiting}"
    )
    if summary.steps:
        table = Table("wave", "reminder", "due", "sent now", "sent in all", "in doubt", "skipped")
        for step in summary.steps:
            skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(step.skipped.items()))
            table.add_row(
                escape(step.wave),
                str(step.step),
                str(step.due),
                str(step.sent_now),
                str(step.sent),
                str(step.in_doubt),
                escape(skipped) or "—",
            )
        out.print(table)
    else:
        out.print("no open wave to remind")
    for wave in summary.closed:
        rate = rate_text(wave["response_rate"])
        out.print(
            f"wave {escape(wave['wave'])} closed: {wave['answered']} of {wave['invited']} "
            f"answered (response rate {rate})"
        )
    for note in summary.notes:
        out.print(f"note: {escape(note)}")


def _plan_event(spec: Survey, settings: Settings, path: Path, *, as_json: bool) -> None:
    """`plan --event`: the contact, filter, segment, dedupe value and due time of one event."""
    from datetime import UTC, datetime

    raw = _read_event_file(path)
    now = settings.now or datetime.now(UTC)
    result = _event_plan(spec, settings, raw, now)
    if as_json:
        print_json(result)
    else:
        _print_event_plan(spec, result)
    if result["error"]:
        raise typer.Exit(1)


def _print_event_plan(spec: Survey, result: dict[str, Any]) -> None:
    from rich.markup import escape

    out = console()
    out.print(f"[bold]plan[/] · survey {spec.id} · event {escape(str(result['event_id']))}")
    if result["contact"] is not None:
        for name, value in result["contact"].items():
            out.print(f"  contact.{escape(name)} = {escape(repr(value))}")
    for name in ("filter", "segment", "dedupe", "occurred_at", "due_at"):
        if result.get(name) is not None:
            out.print(f"  {name}: {escape(str(result[name]))}")
    if result["invited"]:
        note = " (then the send window)" if spec.invitation.send_window is not None else ""
        out.print(
            f"[green]would invite[/] {escape(result['contact']['email'])} at "
            f"{escape(result['due_at'])}{note}"
        )
    else:
        out.print(f"[yellow]would not invite:[/] {escape(result['reason'])}")
