"""The report as one self-contained HTML page: inline SVG charts, inline CSS, no script,
nothing fetched from elsewhere, laid out to print on A4. Every text from a survey or
an answer is escaped by Jinja's autoescape; charts are our own SVG.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup

TEMPLATE = Path(__file__).with_name("report.html.j2")
TOO_FEW = "too few answers"

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


def value(metric: Mapping[str, Any], suffix: str) -> str:
    if metric.get("suppressed"):
        return TOO_FEW
    return _number(metric.get("value"), suffix)


def interval(metric: Mapping[str, Any], suffix: str) -> str:
    if metric.get("suppressed"):
        return f"n = {metric.get('n', 0)}"
    ci = metric.get("ci")
    if not ci or ci[0] is None:
        return f"n = {metric.get('n', 0)}"
    if "verdict" in metric:  # a change: two decimals, so an end near 0 keeps its side
        return f"[{ci[0]:+.2f}, {ci[1]:+.2f}] · n = {metric.get('n', 0)}"
    low, high = (_number(bound, "pts" if suffix == "pp" else suffix) for bound in ci)
    return f"[{low}, {high}] · n = {metric.get('n', 0)}"


def cell(metric: Mapping[str, Any] | None, suffix: str) -> Markup:
    """A table cell's text: value with interval, or "too few answers" with the n."""
    if not metric:
        return Markup("–")
    if metric.get("suppressed"):
        return Markup('<span class="few">{} (n = {})</span>').format(TOO_FEW, metric.get("n", 0))
    shown = value(metric, suffix)
    ci = metric.get("ci")
    if not ci or ci[0] is None:
        return Markup('{} <span class="muted">(n = {})</span>').format(shown, metric.get("n", 0))
    return Markup('{} <span class="muted">[{}, {}] n = {}</span>').format(
        shown, _number(ci[0], suffix), _number(ci[1], suffix), metric.get("n", 0)
    )


def verdict(change: Mapping[str, Any], suffix: str) -> str:
    if change.get("suppressed"):
        return TOO_FEW
    if change.get("verdict") in ("up", "down"):
        arrow = "▲" if change["verdict"] == "up" else "▼"
        return f"{arrow} {_number(change.get('value'), 'pts' if suffix != '' else '')}"
    return "no detectable change"


def change_text(change: Mapping[str, Any] | None, suffix: str) -> Markup:
    if not change:
        return Markup("–")
    if change.get("suppressed"):
        return Markup('<span class="few">{}</span>').format(TOO_FEW)
    points = "" if suffix == "" else "pts"
    ci = change.get("ci")
    # Two decimals: an end that rounds to ±0.0 must still show which side of 0 it is on.
    span = "" if not ci else f" [{ci[0]:+.2f}, {ci[1]:+.2f}]"
    word = change.get("verdict")
    if word in ("up", "down"):
        return Markup('<span class="{}">{}</span>{}').format(word, verdict(change, suffix), span)
    return Markup('no detectable change <span class="muted">({}{})</span>').format(
        _number(change.get("value"), points), span
    )


def money(stake: Mapping[str, Any] | None) -> Markup:
    if not stake:
        return Markup("–")
    if stake.get("suppressed"):
        return Markup('<span class="few">{}</span>').format(TOO_FEW)
    missing = stake.get("missing") or 0
    note = f" ({missing} without a value)" if missing else ""
    return Markup('{:,.0f} <span class="muted">from {} detractors{}</span>').format(
        stake.get("value") or 0, stake.get("n", 0), note
    )


def main_question(report: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any] | None]:
    """The first scored question of the overall group (the survey's headline)."""
    overall = report["overall"]
    if overall.get("suppressed"):
        return None, None
    for qid, question in overall.get("questions", {}).items():
        if "headline" in question:
            return qid, question
    return None, None


def charts_for(report: Mapping[str, Any], main_id: str | None) -> dict[str, Markup]:
    """The four charts (as Markup), each only when it has something to show, the ids
    of each scoped by its name (`chart-themes-patch_1`)."""
    from cxops.analysis import charts

    found: dict[str, Markup] = {}
    overall = report["overall"]
    question = overall.get("questions", {}).get(main_id) if main_id else None
    if question is not None:
        dist = question.get("distribution") or {}
        if dist.get("counts"):
            found["distribution"] = Markup(
                charts.distribution_chart(question["type"], dist["counts"], "Answers by score")
            )
        name = question["headline"]
        rows = [
            (segment, _headline(group, main_id, name))
            for segment, group in report["by_segment"].items()
        ]
        if rows:
            found["segments"] = Markup(
                charts.interval_chart(
                    rows, f"{label(name)} by segment", unit(name), horizontal=True
                )
            )
        trend = [(w, _headline(g, main_id, name)) for w, g in report["by_wave"].items()]
        if trend:
            found["trend"] = Markup(
                charts.interval_chart(trend, f"{label(name)} by wave", unit(name), horizontal=False)
            )
    themes = report["themes"]["themes"]
    if themes:
        by_revenue = bool(report["themes"].get("revenue_column"))
        title = "Themes by revenue at stake" if by_revenue else "Themes by answers"
        found["themes"] = Markup(charts.themes_chart(themes, title, by_revenue=by_revenue))
    return {name: Markup(charts.scope_ids(svg, f"chart-{name}")) for name, svg in found.items()}


def _headline(group: Mapping[str, Any], qid: str | None, name: str) -> Mapping[str, Any]:
    if group.get("suppressed") or qid is None:
        return {"suppressed": True, "n": group.get("n", 0)}
    metric: Mapping[str, Any] = group["questions"][qid]["metrics"][name]
    return metric


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    main_id, main = main_question(report)
    columns = [
        (qid, q) for qid, q in (report["overall"].get("questions") or {}).items() if "headline" in q
    ]
    changes = report["changes"]
    change_into: dict[str, Any] = {}
    if main_id and main:
        for change in changes:
            found = change["questions"].get(main_id, {}).get(main["headline"])
            if found is not None:
                change_into[change["to"]] = found
    template = env.get_template(TEMPLATE.name)
    return template.render(
        r=report,
        main=main,
        main_id=main_id,
        t=report["themes"],
        question_columns=columns,
        segment_rows=list(report["by_segment"].items()),
        last_change=changes[-1] if changes else None,
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
    )
