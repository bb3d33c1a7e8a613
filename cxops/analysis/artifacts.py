"""The report's figures as Markdown and table rows (the report flow's Prefect artifacts).

The same numbers as the HTML page and `--json`, the same "too few answers" rule.
Pure functions over the report document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cxops.analysis.html import TOO_FEW, label, main_question, unit

_UNITS = {"pts": " pts", "%": "%", "": ""}


def artifact_key(survey_id: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return f"report-{survey_id}"


def figure(metric: Mapping[str, Any] | None, suffix: str) -> str:
    """`value [low, high] (n=N)`, or `too few answers (n=N)`."""
    if not metric:
        return "–"
    if metric.get("suppressed"):
        return f"{TOO_FEW} (n={metric.get('n', 0)})"
    value = metric.get("value")
    if value is None:
        return f"– (n={metric.get('n', 0)})"
    ci = metric.get("ci")
    shown = _UNITS.get(suffix, "")
    text = f"{value:g}{shown}"
    if ci and ci[0] is not None:
        text += f" [{ci[0]:g}, {ci[1]:g}]"
    return f"{text} (n={metric.get('n', 0)})"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _headline(group: Mapping[str, Any], qid: str | None, name: str | None) -> str:
    if group.get("suppressed"):
        return f"{TOO_FEW} (n={group.get('n', 0)})"
    if qid is None or name is None:
        return "–"
    return figure(group["questions"][qid]["metrics"][name], unit(name))


def segment_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per segment: invitations, response rate, answers, the headline metric."""
    qid, main = main_question(report)
    name = main["headline"] if main else None
    return [
        {
            "segment": segment,
            "invited": group["invited"],
            "response_rate": figure(group["response_rate"], "%"),
            "answers": group["n"],
            label(name) if name else "metric": _headline(group, qid, name),
        }
        for segment, group in report["by_segment"].items()
    ]


def wave_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    qid, main = main_question(report)
    name = main["headline"] if main else None
    changes = {c["to"]: c for c in report["changes"]}
    rows = []
    for wave, group in report["by_wave"].items():
        change = changes.get(wave)
        moved = (change or {}).get("questions", {}).get(qid or "", {}).get(name or "")
        rows.append(
            {
                "wave": wave,
                "invited": group["invited"],
                "response_rate": figure(group["response_rate"], "%"),
                "answers": group["n"],
                label(name) if name else "metric": _headline(group, qid, name),
                "change": _change(moved, unit(name) if name else ""),
            }
        )
    return rows


def _change(change: Mapping[str, Any] | None, suffix: str) -> str:
    if not change:
        return "–"
    if change.get("suppressed"):
        return TOO_FEW
    verdict = change.get("verdict", "")
    shown = figure({**change, "n": change.get("n", 0)}, "pts" if suffix == "pts" else suffix)
    return f"{verdict}: {shown}"


def theme_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    themes = report["themes"]
    rows = []
    for name, theme in themes["themes"].items():
        row: dict[str, Any] = {
            "theme": name,
            "answers": theme["count"],
            "share": figure(theme["share"], "%"),
        }
        metric = theme.get("metric")
        if metric:
            row[f"{label(metric)} among them"] = figure(theme[metric], unit(metric))
        stake = theme.get("revenue_at_stake")
        if stake is not None:
            row["revenue at stake"] = (
                TOO_FEW if stake.get("suppressed") else f"{stake['value']:,.2f}"
            )
        rows.append(row)
    return rows


def _table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    columns = list(rows[0])
    lines = ["| " + " | ".join(_md(c) for c in columns) + " |", "|---" * len(columns) + "|"]
    lines += ["| " + " | ".join(_md(row.get(c, "")) for c in columns) + " |" for row in rows]
    return [*lines, ""]


def report_markdown(report: Mapping[str, Any]) -> str:
    """The report's figures as Markdown: headline, segments, waves, themes, the loop."""
    survey = report["survey"]
    scope = f"wave {report['wave']}" if report["wave"] else "all waves"
    lines = [f"# {_md(survey['name'])} ({scope})", ""]
    qid, main = main_question(report)
    overall = report["overall"]
    if main and qid:
        name = main["headline"]
        lines.append(f"**{label(name)}**: {figure(main['metrics'][name], unit(name))}")
    else:
        lines.append(f"**{TOO_FEW}** (n={overall['n']}, minimum {report['min_n']})")
    lines += [
        "",
        f"Answers {overall['n']} of {overall['invited']} invited; response rate "
        f"{figure(overall['response_rate'], '%')}; suspect left out: {report['excluded']['total']}.",
        "",
        "## By segment",
        "",
        *_table(segment_rows(report)),
        "## By wave",
        "",
        *_table(wave_rows(report)),
        "## Themes",
        "",
        *_table(theme_rows(report)),
    ]
    loop = report.get("loop")
    if loop:
        lines += ["## Closing the loop (negative answers with a task)", ""]
        rows = []
        for key, title in (("closed", "closed contacted/resolved"), ("not_closed", "not closed")):
            row = {"task": title, "n": loop[key]["n"]}
            if "churned" in loop[key]:
                row["churned"] = figure(loop[key]["churned"], "%")
            row["rescued"] = figure(loop[key]["rescued"], "%")
            rows.append(row)
        lines += _table(rows)
    provenance = report["provenance"]
    lines += [
        f"Inputs SHA-256 `{provenance['inputs_sha256']}`, survey commit "
        f"`{provenance.get('commit') or 'none'}`{' (uncommitted changes)' if provenance.get('dirty') else ''}, "
        f"cxops {provenance['cxops_version']}, {provenance['generated_at']}.",
    ]
    return "\n".join(lines) + "\n"
