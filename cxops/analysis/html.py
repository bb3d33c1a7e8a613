"""The report as one self-contained HTML page: inline SVG charts, inline CSS, no script,
nothing fetched from elsewhere, laid out to print on A4. Every text from a survey or
an answer is escaped by Jinja's autoescape; charts are our own SVG.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from cxops.analysis.change import needed_digits
from cxops.analysis.report_model import (
    Figure,
    LoopComparison,
    QuestionFigures,
    Report,
    RevenueAtStake,
)

TEMPLATE = Path(__file__).with_name("report.html.j2")
TOO_FEW = "too few answers"
PROTECTS = "hidden: protects a smaller group"

_LABELS = {
    "nps": "NPS",
    "satisfied": "CSAT (% satisfied)",
    "easy": "CES (% easy)",
    "mean": "mean",
    "promoters": "promoters",
    "passives": "passives",
    "detractors": "detractors",
}


def unit(metric_name: str) -> str:
    """The unit a metric is shown in: NPS points, percent for shares, none for means."""
    if metric_name == "nps":
        return "pts"
    if metric_name == "mean":
        return ""
    return "%"


def label(name: str) -> str:
    return _LABELS.get(name, name)


def _number(value: float | None, suffix: str) -> str:
    if value is None:
        return "–"
    if suffix == "":
        return f"{value:.2f}"
    text = f"{value:+.1f}" if suffix == "pts" else f"{value:.1f}"
    return text + ("%" if suffix == "%" else "")


def value(metric: Figure, suffix: str) -> str:
    if metric.suppressed:
        return TOO_FEW
    return _number(metric.value, suffix)


def interval(metric: Figure, suffix: str) -> str:
    ci = metric.ci
    if metric.suppressed or not ci or ci[0] is None:
        return f"n = {metric.n}"
    if metric.verdict is not None:  # a change: an end near 0 keeps its side
        return f"[{signed(ci[0])}, {signed(ci[1])}] · n = {metric.n}"
    low, high = (_number(bound, "pts" if suffix == "pp" else suffix) for bound in ci)
    return f"[{low}, {high}] · n = {metric.n}"


def signed(bound: float | None) -> str:
    """An interval end of a change, signed, with two decimals or as many as it takes for
    an end off zero not to read as zero (`+0.0007`, never `+0.00`)."""
    if bound is None:
        return "–"
    return f"{bound:+.{needed_digits(bound)}f}"


def cell(metric: Figure | None, suffix: str) -> Markup:
    """A table cell's text: value with interval, or "too few answers" with the n."""
    if metric is None:
        return Markup("–")
    if metric.suppressed:
        return Markup('<span class="few">{} (n = {})</span>').format(TOO_FEW, metric.n)
    shown = value(metric, suffix)
    ci = metric.ci
    if not ci or ci[0] is None:
        return Markup('{} <span class="muted">(n = {})</span>').format(shown, metric.n)
    return Markup('{} <span class="muted">[{}, {}] n = {}</span>').format(
        shown, _number(ci[0], suffix), _number(ci[1], suffix), metric.n
    )


def verdict(change: Figure, suffix: str) -> str:
    if change.suppressed:
        return TOO_FEW
    if change.verdict in ("up", "down"):
        arrow = "▲" if change.verdict == "up" else "▼"
        return f"{arrow} {_number(change.value, 'pts' if suffix != '' else '')}"
    return "no detectable change"


def change_text(change: Figure | None, suffix: str) -> Markup:
    if change is None:
        return Markup("–")
    if change.suppressed:
        return Markup('<span class="few">{}</span>').format(TOO_FEW)
    points = "" if suffix == "" else "pts"
    ci = change.ci
    # Two decimals: an end that rounds to ±0.0 must still show which side of 0 it is on.
    span = "" if not ci or ci[0] is None else f" [{signed(ci[0])}, {signed(ci[1])}]"
    word = change.verdict
    if word in ("up", "down"):
        return Markup('<span class="{}">{}</span>{}').format(word, verdict(change, suffix), span)
    return Markup('no detectable change <span class="muted">({}{})</span>').format(
        _number(change.value, points), span
    )


def association(comparison: LoopComparison | None) -> Markup:
    """A loop difference as an association: no arrow, no colour, with what it compares."""
    if comparison is None:
        return Markup("–")
    figure = comparison.difference
    size = Markup('<span class="muted">{} answers in {} strata; {} not yet due left out</span>')
    size = size.format(comparison.compared, comparison.strata, comparison.not_yet_due)
    if figure.suppressed or figure.value is None:
        return Markup("{} · {}").format(TOO_FEW, size)
    ci = figure.ci
    span = "" if not ci or ci[0] is None else f" [{signed(ci[0])}, {signed(ci[1])}]"
    return Markup("{} pts{} · {}").format(f"{figure.value:+.1f}", span, size)


def money(stake: RevenueAtStake | None) -> Markup:
    if stake is None:
        return Markup("–")
    if stake.suppressed:
        return Markup('<span class="few">{}</span>').format(TOO_FEW)
    missing = stake.missing or 0
    note = f" ({missing} without a value)" if missing else ""
    return Markup('{:,.0f} <span class="muted">from {} customers{}</span>').format(
        stake.value or 0, stake.n, note
    )


def charts_for(report: Report, main_id: str | None) -> dict[str, Markup]:
    """The four charts (as Markup), each only when it has something to show, the ids
    of each scoped by its name (`chart-themes-patch_1`)."""
    from cxops.analysis import charts

    found: dict[str, Markup] = {}
    questions = report.overall.questions or {}
    question = questions.get(main_id) if main_id else None
    if question is not None:
        dist = question.distribution
        if dist is not None and dist.counts:
            found["distribution"] = Markup(
                charts.distribution_chart(question.type, dist.counts, "Answers by score")
            )
        name = question.headline or "mean"
        rows = [
            (segment, group.headline_figure(main_id, name))
            for segment, group in report.by_segment.items()
        ]
        if rows:
            found["segments"] = Markup(
                charts.interval_chart(
                    rows, f"{label(name)} by segment", unit(name), horizontal=True
                )
            )
        trend = [
            (_short(report.period_labels.get(p, p)), g.headline_figure(main_id, name))
            for p, g in report.by_period.items()
        ]
        if trend:
            found["trend"] = Markup(
                charts.interval_chart(
                    trend, f"{label(name)} by {report.by}", unit(name), horizontal=False
                )
            )
    themes = report.themes.themes
    if themes:
        by_revenue = bool(report.themes.revenue_column)
        title = "Themes by revenue at stake" if by_revenue else "Themes by answers"
        found["themes"] = Markup(charts.themes_chart(themes, title, by_revenue=by_revenue))
    return {name: Markup(charts.scope_ids(svg, f"chart-{name}")) for name, svg in found.items()}


def _short(period_label: str) -> str:
    """A period's label on an axis: a wave's id without "wave" and its parenthesis."""
    if period_label.startswith("wave "):
        return period_label[5:].split(" (", 1)[0]
    return period_label


def render_html(report: Report) -> str:
    """The whole page."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    main_id, main = report.main_question()
    columns: list[tuple[str, QuestionFigures]] = [
        (qid, q) for qid, q in (report.overall.questions or {}).items() if q.headline is not None
    ]
    changes = report.changes
    change_into: dict[str, Figure] = {}
    if main_id and main and main.headline:
        for change in changes:
            found = change.questions.get(main_id, {}).get(main.headline)
            if found is not None:
                change_into[change.to] = found
    template = env.get_template(TEMPLATE.name)
    return template.render(
        r=report,
        main=main,
        main_id=main_id,
        t=report.themes,
        question_columns=columns,
        segment_rows=list(report.by_segment.items()),
        last_change=changes[-1] if changes else None,
        head=report.headline,
        change_into=change_into,
        charts=charts_for(report, main_id),
        label=label,
        unit=unit,
        value=value,
        interval=interval,
        cell=cell,
        verdict=verdict,
        change_text=change_text,
        money=money,
        association=association,
        PROTECTS=PROTECTS,
    )
