"""Commands for the product team: the analysis report, and what a survey change does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cxops.cli.app import (
    JsonOption,
    ProjectDirOption,
    SurveyArgument,
    app,
    print_json,
    project_context,
)

if TYPE_CHECKING:
    from cxops.analysis.report_model import Report
    from cxops.settings import Settings


@app.command("report")
def report_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    project_dir: ProjectDirOption = None,
    wave: Annotated[
        str | None, typer.Option("--wave", help="Only this wave (default: every wave).")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Periods: wave, week, month or quarter (default: wave when waves are a "
            "week apart or more, else month).",
        ),
    ] = None,
    cut: Annotated[
        list[str] | None,
        typer.Option(
            "--cut",
            help="A contact column the survey keeps (plan, country, CSM): figures by its "
            "values beside the segments. Repeatable.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file to write (default: reports/SURVEY.html)."),
    ] = None,
    as_json: JsonOption = False,
    experiment: Annotated[
        bool,
        typer.Option(
            "--experiment",
            help="The invitation experiment only: variants by wave, the winner, the figures.",
        ),
    ] = False,
) -> None:
    """NPS, CSAT and CES with 95% intervals by segment and wave, themes, closing the loop."""
    from cxops.analysis.report import build_from_store

    project = project_context(ctx, project_dir)
    settings = project.settings
    spec = project.surveys.find(survey)
    report = build_from_store(spec, settings, wave=wave, by=by, cut=cut or ())
    if experiment:
        _print_experiment(report, as_json=as_json)
        return
    if as_json:
        if out is not None:
            _write_html(report, out, settings)
        print_json(report.document())
        return
    target = out or Path("reports") / f"{spec.id}{'-' + wave if wave else ''}.html"
    written = _write_html(report, target, settings)
    print_headline(report, written)


def _print_experiment(report: Report, *, as_json: bool) -> None:
    from rich.markup import escape

    from cxops.analysis.experiment import experiment_lines

    if as_json:
        section = report.variants
        print_json(None if section is None else section.model_dump(mode="json", exclude_unset=True))
        return
    out = _console()
    out.print(f"[bold]{escape(report.survey.name)}[/] · invitation experiment")
    for line in experiment_lines(report.variants):
        out.print("  " + escape(line))


def _write_html(report: Report, out: Path, settings: Settings) -> Path:
    from cxops.analysis.html import render_html

    path = out if out.is_absolute() else settings.project_dir / out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path


def headline_lines(report: Report) -> list[str]:
    """The report's headline numbers as short lines (terminal and `make demo`)."""
    from cxops.analysis.html import cell, change_text, label, unit

    def plain(markup: Any) -> str:
        import re

        return re.sub(r"<[^>]+>", "", str(markup)).replace("&amp;", "&")

    lines = []
    overall = report.overall
    qid, main = report.main_question()
    if main is not None and qid is not None and main.headline is not None:
        name = main.headline
        head = report.headline
        if head is not None and overall.pooled is not None:
            latest = head.group.headline_figure(qid, name)
            lines.append(f"{label(name)}, {head.label}: {plain(cell(latest, unit(name)))}")
            pooled = f", pooled over {len(report.periods)} {report.by}(s)"
        else:
            pooled = ""
        lines.append(f"{label(name)}{pooled}: {plain(cell(main.metrics[name], unit(name)))}")
        if report.changes:
            last = report.changes[-1]
            change = last.questions.get(qid, {}).get(name)
            names = report.period_labels
            lines.append(
                f"change {names.get(last.from_, last.from_)} → {names.get(last.to, last.to)}: "
                f"{plain(change_text(change, unit(name)))}"
            )
    elif overall.suppressed:
        lines.append(f"too few answers (n = {overall.n}, minimum {report.min_n})")
    if report.variants is not None:
        split = ", ".join(f"{k} {v:g}%" for k, v in report.variants.split.items())
        lines.append(f"over every invitation variant (split now: {split})")
    lines.append(
        f"answers {overall.n} of {overall.invited} invited · response rate "
        f"{plain(cell(overall.response_rate, '%'))} · suspect left out "
        f"{report.excluded.total}"
    )
    themes = report.themes.themes
    if themes:
        top = sorted(themes.items(), key=lambda item: -item[1].count)[:3]
        lines.append("top themes: " + ", ".join(f"{name} ({t.count})" for name, t in top))
    return lines


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def print_headline(report: Report, path: Path) -> None:
    from rich.markup import escape

    out = _console()
    out.print(f"[bold]{escape(report.survey.name)}[/] · report written to {escape(str(path))}")
    for line in headline_lines(report):
        out.print("  " + escape(line))


@app.command("diff")
def diff_command(
    ctx: typer.Context,
    survey: SurveyArgument,
    project_dir: ProjectDirOption = None,
    against: Annotated[
        str, typer.Option("--against", help="Git revision to compare with (default: HEAD).")
    ] = "HEAD",
    allow_breaking: Annotated[
        bool,
        typer.Option("--allow-breaking", help="Exit 0 even when a change breaks a trend series."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """What a change to a survey file does: questions, scales, audience counts before/after."""
    from cxops.analysis.diff import diff_against_git, diff_lines

    result = diff_against_git(survey, against, project_context(ctx, project_dir).settings)
    if as_json:
        print_json(result)
    else:
        from rich.markup import escape

        out = _console()
        for line in diff_lines(result):
            out.print(escape(line))
    if result["breaking"] and not allow_breaking:
        raise typer.Exit(1)
