"""The invitation experiment in the report: each variant's figures, its difference to the
first variant, and the sample it would need (`report --json`'s `variants`).

Per variant: invitations sent, the response rate (complete answers per invitation) and
the completion rate (complete per answer) with Wilson intervals, and the survey's score
metric with its interval (`cxops.analysis.metrics`). Against the first variant: rates
with Newcombe's hybrid score interval, NPS with the adjusted-Wald difference, means with
Welch's (`cxops.analysis.change`); "no detectable difference" when the interval includes
zero. The survey's headline stays over every variant; this section shows the split.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from cxops.analysis.change import Change, mean_change, nps_change, share_change
from cxops.analysis.experiment_data import ExperimentData
from cxops.analysis.intervals import LEVEL, z_quantile
from cxops.analysis.metrics import Tally, categories, headline, scored_metrics, share, top_box
from cxops.analysis.report_model import (
    ExperimentWave,
    Figure,
    Report,
    VariantDifference,
    VariantFigures,
    Variants,
)
from cxops.spec.models import SCALES, Survey

NO_DIFFERENCE = "no detectable difference"
#: The power `needed_n` is computed for.
POWER = 0.8
#: The differences `needed_n` is for: the response rate in percentage points, the
#: score metric in its own units (NPS points, top-box points).
DETECT = {"response_rate": 5.0, "nps": 10.0, "satisfied": 5.0, "easy": 5.0}


def two_proportions_n(
    p1: float, p2: float, difference: float, level: float = LEVEL, power: float = POWER
) -> int:
    """Sample size per group to detect `difference` (a fraction) between two independent
    proportions near `p1` and `p2`, two-sided at `level` with `power`.

    Sauro, J. & Lewis, J. R. (2016), Quantifying the User Experience, 2nd ed., ch. 6
    ("comparing two proportions, between-subjects"; MeasuringU's calculator for two
    independent proportions): n = 2·Z²·p(1 - p)/d² + ½, with p the mean of the two
    proportions and Z = z_{1-α/2} + z_{power}; the ½ is the N - 1 chi-square adjustment.
    """
    if not 0 < difference <= 1:
        raise ValueError(f"expected a difference in (0, 1], found {difference}")
    p = (p1 + p2) / 2
    z = z_quantile(level) + z_quantile(2 * power - 1)
    return math.ceil(2 * z * z * p * (1 - p) / (difference * difference) + 0.5)


def nps_comparison_n(
    tally1: Tally, tally2: Tally, difference: float, level: float = LEVEL, power: float = POWER
) -> int:
    """Answers per group to detect an NPS `difference` (a fraction of -1..1) between two
    independent groups like `tally1` and `tally2`, two-sided at `level` with `power`.

    Lewis, J. R. & Sauro, J. (2021), "Sample Sizes for Comparing Net Promoter Scores",
    MeasuringU: n = s²·Z²/d² - 3, with Z = z_{1-α/2} + z_{power} and s² the sum of the
    groups' variances of the adjusted-Wald NPS (Rocks 2016: ¾ added to promoters and to
    detractors, 3 to n; Var = p_P + p_D - (p_P - p_D)²), which the -3 undoes.
    """
    if not 0 < difference <= 2:
        raise ValueError(f"expected a difference in (0, 2], found {difference}")
    variance = _nps_variance(tally1) + _nps_variance(tally2)
    z = z_quantile(level) + z_quantile(2 * power - 1)
    return max(1, math.ceil(variance * z * z / (difference * difference) - 3))


def _nps_variance(tally: Tally) -> float:
    promoters, _, detractors = categories(tally)
    n = sum(tally.values()) + 3
    pp, pd = (promoters + 0.75) / n, (detractors + 0.75) / n
    return pp + pd - (pp - pd) ** 2


def with_experiment(report: Report, survey: Survey, data: ExperimentData) -> Report:
    """`report` with its `variants` part (unchanged without an experiment)."""
    waves = [report.wave] if report.wave is not None else report.waves
    section = experiment_section(survey, data, waves, report.min_n)
    return report if section is None else report.model_copy(update={"variants": section})


def experiment_section(
    survey: Survey, data: ExperimentData, waves: Sequence[str], min_n: int
) -> Variants | None:
    """The `variants` part of the report over `waves`; None when no wave in them had
    variants and the survey declares none."""
    in_scope = set(waves)
    declared = [variant.id for variant in survey.invitation.variants]
    seen = {variant for (wave, variant) in data.invited if wave in in_scope}
    if not declared and not seen:
        return None
    order = [*declared, *sorted(seen - set(declared))]
    weights = survey.invitation.weights()
    main = survey.main_question
    metric = headline(main.type) if main is not None and main.type in SCALES else None
    counts = {variant: _Counts.of(data, variant, in_scope) for variant in order}
    first = next((v for v in order if counts[v].invited), order[0])
    figures = {}
    for variant in order:
        own = counts[variant]
        entry = VariantFigures(
            share=round(100.0 * weights.get(variant, 0.0), 1),
            waves=[wave for wave in waves if data.invited[(wave, variant)]],
            invited=own.invited,
            answers=own.answers,
            response_rate=share(own.complete, own.invited).figure(),
            completion_rate=share(own.complete, own.answers).figure(min_n),
            metrics=_metrics(metric, own.scores, min_n),
        )
        if variant != first:
            entry = entry.model_copy(
                update={
                    "difference": _difference(first, counts[first], own, metric, min_n),
                    "needed_n": _needed(counts[first], own, metric),
                }
            )
        figures[variant] = entry
    history = [
        ExperimentWave(
            wave=wave,
            invited={v: data.invited[(wave, v)] for v in order if data.invited[(wave, v)]},
        )
        for wave in waves
        if any(data.invited[(wave, v)] for v in order)
    ]
    section = Variants(
        metric=metric,
        split={variant: round(100.0 * weight, 1) for variant, weight in weights.items()},
        detect={name: value for name, value in DETECT.items() if name in ("response_rate", metric)},
        variants=figures,
        history=history,
    )
    if survey.invitation.winner is not None:
        section = section.model_copy(update={"winner": survey.invitation.winner})
    return section


class _Counts:
    """One variant's counts over the waves in scope."""

    def __init__(self, invited: int, complete: int, answers: int, scores: Counter[int]):
        self.invited, self.complete, self.answers, self.scores = invited, complete, answers, scores

    @classmethod
    def of(cls, data: ExperimentData, variant: str, waves: set[str]) -> _Counts:
        invited = sum(n for (w, v), n in data.invited.items() if v == variant and w in waves)
        statuses = [
            (status, n)
            for (w, v, status), n in data.statuses.items()
            if v == variant and w in waves
        ]
        complete = sum(n for status, n in statuses if status == "complete")
        scores: Counter[int] = Counter()
        for (w, v), tally in data.scores.items():
            if v == variant and w in waves:
                scores.update(tally)
        return cls(invited, complete, sum(n for _, n in statuses), scores)


def _metrics(metric: str | None, scores: Tally, min_n: int) -> dict[str, Figure]:
    if metric is None:
        return {}
    kind = {"nps": "nps", "satisfied": "csat", "easy": "ces"}.get(metric, "rating")
    return {metric: scored_metrics(kind, scores)[metric].figure(min_n)}


def _difference(
    first: str, base: _Counts, own: _Counts, metric: str | None, min_n: int
) -> VariantDifference:
    metrics: dict[str, Figure] = {}
    if metric == "nps":
        metrics["nps"] = _figure(nps_change(base.scores, own.scores), min_n)
    elif metric in ("satisfied", "easy"):
        kind = "csat" if metric == "satisfied" else "ces"
        change = share_change(
            top_box(kind, base.scores),
            sum(base.scores.values()),
            top_box(kind, own.scores),
            sum(own.scores.values()),
        )
        metrics[metric] = _figure(change, min_n)
    elif metric == "mean":
        metrics["mean"] = _figure(mean_change(base.scores, own.scores), min_n)
    return VariantDifference(
        to=first,
        response_rate=_figure(
            share_change(base.complete, base.invited, own.complete, own.invited), 0
        ),
        completion_rate=_figure(
            share_change(base.complete, base.answers, own.complete, own.answers), min_n
        ),
        metrics=metrics,
    )


def _figure(change: Change, min_n: int) -> Figure:
    document = change.as_dict(min_n)
    if "verdict" in document:
        document["verdict"] = {"up": "higher", "down": "lower"}.get(
            document["verdict"], NO_DIFFERENCE
        )
    return Figure.model_validate(document)


def _needed(base: _Counts, own: _Counts, metric: str | None) -> dict[str, int] | None:
    needed: dict[str, int] = {}
    if base.invited and own.invited:
        p1, p2 = base.complete / base.invited, own.complete / own.invited
        if 0 < p1 + p2 < 2:
            needed["response_rate"] = two_proportions_n(p1, p2, DETECT["response_rate"] / 100)
    base_n, own_n = sum(base.scores.values()), sum(own.scores.values())
    if metric == "nps" and base_n and own_n:
        needed["nps"] = nps_comparison_n(base.scores, own.scores, DETECT["nps"] / 100)
    elif metric in ("satisfied", "easy") and base_n and own_n:
        kind = "csat" if metric == "satisfied" else "ces"
        p1, p2 = top_box(kind, base.scores) / base_n, top_box(kind, own.scores) / own_n
        if 0 < p1 + p2 < 2:
            needed[metric] = two_proportions_n(p1, p2, DETECT[metric] / 100)
    return needed or None


def experiment_lines(section: Variants | None) -> list[str]:
    """`cxops report --experiment`: which variants ran in which waves, the winner, and
    each variant's figures against the first."""
    if section is None:
        return ["no invitation variants in this survey's waves"]
    split = ", ".join(f"{name} {share:g}%" for name, share in section.split.items())
    lines = [f"split now: {split}" + (f" · winner: {section.winner}" if section.winner else "")]
    for entry in section.history:
        sent = ", ".join(f"{name} {count}" for name, count in entry.invited.items())
        lines.append(f"wave {entry.wave}: {sent}")
    for name, figures in section.variants.items():
        rate = _text(figures.response_rate, "%")
        score = "".join(
            f" · {metric} {_text(figure, '')}" for metric, figure in figures.metrics.items()
        )
        lines.append(f"{name}: invited {figures.invited} · response rate {rate}{score}")
        if figures.difference is not None:
            difference = figures.difference
            parts = [("response rate", difference.response_rate, " points")]
            parts += [(metric, f, " points") for metric, f in difference.metrics.items()]
            for label, figure, unit in parts:
                lines.append(f"  vs {difference.to}, {label}: {_text(figure, unit)}")
        if figures.needed_n:
            needs = ", ".join(f"{k} {v}" for k, v in figures.needed_n.items())
            detect = ", ".join(f"{k} {v:g}" for k, v in section.detect.items())
            lines.append(f"  needed per variant to detect ({detect}): {needs}")
    return lines


def _text(figure: Figure, unit: str) -> str:
    if figure.suppressed:
        return f"too few answers (n = {figure.n})"
    if figure.value is None:
        return "—"
    text = f"{figure.value:g}{unit}"
    if figure.ci is not None and None not in figure.ci:
        text += f" [{figure.ci[0]:g}, {figure.ci[1]:g}]"
    return text + (f" · {figure.verdict}" if figure.verdict else "")
