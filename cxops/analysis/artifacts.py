"""The report's figures as Markdown and table rows (the report flow's Prefect artifacts).

The same numbers as the HTML page and `--json`, the same "too few answers" rule.
Pure functions over the report document.
"""

from __future__ import annotations

from typing import Any

from cxops.analysis.html import TOO_FEW, label, unit
from cxops.analysis.report_model import Figure, Group, Report

_UNITS = {"pts": " pts", "%": "%", "": ""}


def artifact_key(survey_id: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return f"report-{survey_id}"


def figure(metric: Figure | None, suffix: str) -> str:
    """`value [low, high] (n=N)`, or `too few answers (n=N)`."""
    if metric is None:
        return "–"
    if metric.suppressed:
        return f"{TOO_FEW} (n={metric.n})"
    value = metric.value
    if value is None:
        return f"– (n={metric.n})"
    ci = metric.ci
    shown = _UNITS.get(suffix, "")
    text = f"{value:g}{shown}"
    if ci and ci[0] is not None and ci[1] is not None:
        text += f" [{ci[0]:g}, {ci[1]:g}]"
    return f"{text} (n={metric.n})"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _headline(group: Group, qid: str | None, name: str | None) -> str:
    if group.suppressed:
        return f"{TOO_FEW} (n={group.n})"
    if qid is None or name is None:
        return "–"
    return figure(group.headline_figure(qid, name), unit(name))


def segment_rows(report: Report) -> list[dict[str, Any]]:
    """One row per segment: invitations, response rate, answers, the headline metric."""
    qid, main = report.main_question()
    name = main.headline if main else None
    return [
        {
            "segment": segment,
            "invited": group.invited,
            "response_rate": figure(group.response_rate, "%"),
            "answers": group.n,
            label(name) if name else "metric": _headline(group, qid, name),
        }
        for segment, group in report.by_segment.items()
    ]


def wave_rows(report: Report) -> list[dict[str, Any]]:
    qid, main = report.main_question()
    name = main.headline if main else None
    changes = {c.to: c for c in report.changes}
    rows = []
    for wave, group in report.by_period.items():
        change = changes.get(wave)
        moved = change.questions.get(qid or "", {}).get(name or "") if change is not None else None
        rows.append(
            {
                report.by: report.period_labels.get(wave, wave),
                "invited": group.invited,
                "response_rate": figure(group.response_rate, "%"),
                "answers": group.n,
                label(name) if name else "metric": _headline(group, qid, name),
                "change": _change(moved, unit(name) if name else ""),
            }
        )
    return rows


def _change(change: Figure | None, suffix: str) -> str:
    if change is None:
        return "–"
    if change.suppressed:
        return TOO_FEW
    verdict = change.verdict or ""
    shown = figure(change, "pts" if suffix == "pts" else suffix)
    return f"{verdict}: {shown}"


def theme_rows(report: Report) -> list[dict[str, Any]]:
    rows = []
    for name, theme in report.themes.themes.items():
        row: dict[str, Any] = {
            "theme": name,
            "answers": theme.count,
            "share": figure(theme.share, "%"),
        }
        if theme.metric:
            row[f"{label(theme.metric)} among them"] = figure(
                theme.metric_figure, unit(theme.metric)
            )
        stake = theme.revenue_at_stake
        if stake is not None:
            row["revenue at stake"] = TOO_FEW if stake.suppressed else f"{stake.value or 0:,.2f}"
        rows.append(row)
    return rows


def _table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    columns = list(rows[0])
    lines = ["| " + " | ".join(_md(c) for c in columns) + " |", "|---" * len(columns) + "|"]
    lines += ["| " + " | ".join(_md(row.get(c, "")) for c in columns) + " |" for row in rows]
    return [*lines, ""]


def report_markdown(report: Report) -> str:
    """The report's figures as Markdown: headline, segments, waves, themes, the loop."""
    scope = f"wave {report.wave}" if report.wave else "all waves"
    lines = [f"# {_md(report.survey.name)} ({scope})", ""]
    qid, main = report.main_question()
    overall = report.overall
    if main and qid and main.headline:
        name = main.headline
        head = report.headline
        if head is not None and overall.pooled is not None:
            latest = head.group.headline_figure(qid, name)
            lines.append(f"**{label(name)}, {_md(head.label)}**: {figure(latest, unit(name))}")
            pooled = f"pooled over {len(report.periods)} {report.by}(s)"
            lines.append(f"**{label(name)}, {pooled}**: {figure(main.metrics[name], unit(name))}")
        else:
            lines.append(f"**{label(name)}**: {figure(main.metrics[name], unit(name))}")
    else:
        lines.append(f"**{TOO_FEW}** (n={overall.n}, minimum {report.min_n})")
    lines += [
        "",
        f"Answers {overall.n} of {overall.invited} invited; response rate "
        f"{figure(overall.response_rate, '%')}; suspect left out: {report.excluded.total}.",
        "",
        "## By segment",
        "",
        *_table(segment_rows(report)),
        f"## By {report.by}",
        "",
        *_table(wave_rows(report)),
        "## Themes",
        "",
        *_table(theme_rows(report)),
    ]
    loop = report.loop
    if loop:
        lines += ["## Closing the loop (negative answers with a task)", ""]
        rows = []
        for tasks, title in (
            (loop.closed, "closed contacted/resolved"),
            (loop.not_closed, "not closed"),
        ):
            row: dict[str, Any] = {"task": title, "n": tasks.n}
            if tasks.churned is not None:
                row["churned"] = figure(tasks.churned, "%")
            row["rescued"] = figure(tasks.rescued, "%")
            rows.append(row)
        lines += _table(rows)
    provenance = report.provenance
    lines += [
        f"Inputs SHA-256 `{provenance.inputs_sha256}`, survey commit "
        f"`{provenance.commit or 'none'}`{' (uncommitted changes)' if provenance.dirty else ''}, "
        f"cxops {provenance.cxops_version}, {provenance.generated_at}.",
    ]
    return "\n".join(lines) + "\n"
