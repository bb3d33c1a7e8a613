"""The report's charts as inline SVG text, drawn with matplotlib (imported here only).

Deterministic: a fixed `svg.hashsalt`, no date or creator in the metadata, text
kept as text (`svg.fonttype: none`), so the same report gives the same bytes. No
pyplot: each chart is its own `Figure`, nothing global is touched. matplotlib numbers
the ids of each SVG from 1 (`patch_1`, `text_1`, `xtick_1`), so charts sharing a page
have their ids scoped (`scope_ids`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxops.analysis.report_model import Figure, Theme

TOO_FEW = "too few answers"
#: Colours that stay apart for the common colour-vision deficiencies (Okabe-Ito) and in grey.
RED, GREY, GREEN, BLUE = "#D55E00", "#999999", "#009E73", "#0072B2"
_RC: dict[str, Any] = {
    "svg.hashsalt": "cxops-report",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "figure.dpi": 72,
}


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    settings: Any = _RC  # the stubs type rc keys as one long Literal
    with matplotlib.rc_context(settings):
        yield


def _svg(figure: Any, label: str) -> str:
    buffer = io.StringIO()
    figure.savefig(
        buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight"
    )
    text = buffer.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    safe = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return text.replace("<svg ", f'<svg role="img" aria-label="{safe}" ', 1).strip()


_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(href="#|url\(#)([^")]+)')


def scope_ids(svg: str, scope: str) -> str:
    """`svg` with every id it defines, and every reference to one (`href="#…"`,
    `url(#…)`), prefixed with `scope-`: one page can hold several charts."""
    defined = set(_ID.findall(svg))
    svg = _ID.sub(lambda match: f'id="{scope}-{match[1]}"', svg)
    return _REFERENCE.sub(
        lambda match: match[1] + (f"{scope}-{match[2]}" if match[2] in defined else match[2]),
        svg,
    )


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def distribution_chart(kind: str, counts: Mapping[str, int], title: str) -> str:
    """Answers per score (NPS 0..10 coloured detractor / passive / promoter)."""
    scores = [int(score) for score in counts]
    values = [counts[str(score)] for score in scores]
    with _style():
        figure = _figure(6.2, 2.4)
        axes = figure.add_subplot()
        axes.bar([str(s) for s in scores], values, color=[_score_colour(kind, s) for s in scores])
        axes.set_title(title, loc="left")
        axes.set_ylabel("answers")
        for index, value in enumerate(values):
            axes.annotate(
                str(value),
                (index, value),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 1),
                textcoords="offset points",
            )
        return _svg(figure, title)


def _score_colour(kind: str, score: int) -> str:
    if kind == "nps":
        return RED if score <= 6 else GREY if score <= 8 else GREEN
    if kind == "csat":
        return RED if score <= 2 else GREY if score == 3 else GREEN
    if kind == "ces":
        return RED if score <= 3 else GREY if score == 4 else GREEN
    return BLUE


def interval_chart(
    rows: Sequence[tuple[str, Figure]], title: str, unit: str, *, horizontal: bool
) -> str:
    """Points with 95% intervals, one per row (`{value, ci, n}` or suppressed).

    horizontal: rows down the side (segments); else along the bottom in order (waves,
    joined by a line)."""
    labels = [name for name, _ in rows]
    shown = [(i, drawn) for i, (_, m) in enumerate(rows) if (drawn := _drawable(m)) is not None]
    with _style():
        figure = _figure(6.2, max(1.6, 0.42 * len(rows) + 0.9) if horizontal else 2.6)
        axes = figure.add_subplot()
        axes.set_title(title, loc="left")
        positions = [i for i, _ in shown]
        values = [value for _, (value, _, _) in shown]
        lows = [value - low for _, (value, low, _) in shown]
        highs = [high - value for _, (value, _, high) in shown]
        if horizontal:
            axes.errorbar(values, positions, xerr=[lows, highs], fmt="o", color=BLUE, capsize=3)
            axes.set_yticks(range(len(labels)), [_label(n, m) for n, m in rows])
            axes.invert_yaxis()
            axes.set_xlabel(unit)
            for i, (_, metric) in enumerate(rows):
                if _drawable(metric) is None:
                    axes.annotate(
                        TOO_FEW,
                        (0, i),
                        xycoords=("axes fraction", "data"),
                        fontsize=8,
                        color="#555555",
                        va="center",
                    )
        else:
            axes.errorbar(positions, values, yerr=[lows, highs], fmt="-o", color=BLUE, capsize=3)
            ticks, names = axis_ticks(rows)
            crowded = len(rows) > MAX_TICKS // 2
            axes.set_xticks(
                ticks,
                names,
                fontsize=8,
                rotation=45 if crowded else 0,
                ha="right" if crowded else "center",
            )
            axes.set_ylabel(unit)
            if len(labels) == 1:
                axes.set_xlim(-1, 1)
        return _svg(figure, title)


#: At most this many labels along a trend's axis; the others are left out, evenly.
MAX_TICKS = 12


def axis_ticks(rows: Sequence[tuple[str, Figure]]) -> tuple[list[int], list[str]]:
    """The positions and labels along a trend's axis: every row while they fit, else every
    k-th row ending at the latest (the n is then in the table, not on the axis)."""
    if len(rows) <= MAX_TICKS // 2:
        return list(range(len(rows))), [_label(name, metric) for name, metric in rows]
    step = -(-len(rows) // MAX_TICKS)
    ticks = list(range(len(rows) - 1, -1, -step))[::-1]
    return ticks, [rows[i][0] for i in ticks]


def _drawable(metric: Figure) -> tuple[float, float, float] | None:
    """(value, low, high) of a figure that has them all, else None."""
    if metric.suppressed or metric.value is None or metric.ci is None:
        return None
    low, high = metric.ci
    if low is None or high is None:
        return None
    return float(metric.value), float(low), float(high)


def _label(name: str, metric: Figure) -> str:
    return f"{name} (n={metric.n})"


def themes_chart(themes: Mapping[str, Theme], title: str, *, by_revenue: bool) -> str:
    """One bar per theme: revenue at stake (or the number of answers mentioning it)."""
    rows: list[tuple[str, float, str]] = []
    for name, theme in themes.items():
        if theme.suppressed:
            rows.append((name, 0.0, TOO_FEW))
        elif by_revenue:
            stake = theme.revenue_at_stake
            if stake is not None and stake.suppressed:
                rows.append((name, 0.0, TOO_FEW))
            else:
                value = float((stake.value if stake is not None else None) or 0.0)
                rows.append((name, value, f"{value:,.0f}"))
        else:
            rows.append((name, float(theme.count), str(theme.count)))
    rows.sort(key=lambda row: (-row[1], row[0]))
    with _style():
        figure = _figure(6.2, max(1.4, 0.4 * len(rows) + 0.8))
        axes = figure.add_subplot()
        axes.set_title(title, loc="left")
        names = [row[0] for row in rows]
        axes.barh(range(len(rows)), [row[1] for row in rows], color=RED if by_revenue else BLUE)
        axes.set_yticks(range(len(rows)), names)
        axes.invert_yaxis()
        axes.set_xlabel("revenue at stake (customers, each once)" if by_revenue else "answers")
        # Nothing to draw: an axis from 0 (matplotlib would centre it, -0.04 to 0.04).
        axes.set_xlim(0, max([row[1] for row in rows] + [0.0]) * 1.15 or 1.0)
        for index, (_, value, text) in enumerate(rows):
            axes.annotate(
                text,
                (value, index),
                va="center",
                fontsize=8,
                xytext=(3, 0),
                textcoords="offset points",
            )
        return _svg(figure, title)
