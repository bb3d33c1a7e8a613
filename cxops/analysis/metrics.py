"""Survey metrics from tallies, each with its n and a 95% interval.

A tally is `{score: count}` for a scored question (nps, csat, ces, rating) or
`{option: count}` with the number of people who answered for a choice question.
Metrics are computed from tallies, never from rows, so a million answers cost
what their GROUP BY costs. Units follow docs/behaviour.md: NPS in points (-100..100),
shares in percent, means in the scale's units.

- NPS: promoters (9-10) minus detractors (0-6), Rocks' adjusted-Wald interval.
- CSAT: % satisfied (4-5 on 1-5) with a Wilson interval, and the mean (t interval).
- CES: % agreeing it was easy (5-7 on 1-7) with a Wilson interval, and the mean.
- rating: the mean (t interval); single/multi: each option's share (Wilson).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cxops.analysis.intervals import (
    LEVEL,
    Interval,
    nps_adjusted_wald,
    t_interval,
    wilson_interval,
)
from cxops.analysis.report_model import Figure
from cxops.spec.models import TOP_BOX as TOP_BOX  # where the report found it

Tally = Mapping[int, int]


@dataclass(frozen=True, slots=True)
class Metric:
    """One figure: `value` with its interval `ci` over `n` answers (value None when n is 0)."""

    value: float | None
    ci: Interval | None
    n: int
    #: Decimal places shown (points and percent: 1, interval ends 2; means: 2 and 2).
    digits: int = 1

    def as_dict(self, min_n: int = 0) -> dict[str, Any]:
        """docs/behaviour.md's shape `{value, ci: [low, high], n}`, or `{suppressed: true, n}`
        when fewer than `min_n` answers back it."""
        if self.n < min_n:
            return {"suppressed": True, "n": self.n}
        ci = None if self.ci is None else [_round(self.ci[0], 2), _round(self.ci[1], 2)]
        value = None if self.value is None else _round(self.value, self.digits)
        return {"value": value, "ci": ci, "n": self.n}

    def figure(self, min_n: int = 0) -> Figure:
        """`as_dict(min_n)` as the report's model."""
        return Figure.model_validate(self.as_dict(min_n))

    def suppressed(self, min_n: int) -> bool:
        return self.n < min_n


def _round(value: float, digits: int) -> float | None:
    if math.isinf(value) or math.isnan(value):
        return None
    return round(value, digits)


def share(hits: int, n: int, level: float = LEVEL) -> Metric:
    """`hits` of `n` in percent with the Wilson interval (Newcombe 1998, method 3)."""
    if n == 0:
        return Metric(None, None, 0)
    low, high = wilson_interval(hits, n, level)
    return Metric(100.0 * hits / n, (100.0 * low, 100.0 * high), n)


def nps(tally: Tally, level: float = LEVEL) -> Metric:
    """The Net Promoter Score in points with Rocks' (2016) adjusted-Wald interval."""
    n = sum(tally.values())
    if n == 0:
        return Metric(None, None, 0)
    promoters = sum(count for score, count in tally.items() if score >= 9)
    detractors = sum(count for score, count in tally.items() if score <= 6)
    low, high = nps_adjusted_wald(promoters, detractors, n, level)
    return Metric(100.0 * (promoters - detractors) / n, (100.0 * low, 100.0 * high), n)


def mean(tally: Tally, level: float = LEVEL) -> Metric:
    """The mean score with Student's t interval (none below two answers)."""
    n, total, squares = moments(tally)
    if n == 0:
        return Metric(None, None, 0, digits=2)
    low, high = t_interval(n, total, squares, level)
    ci = None if math.isinf(low) else (low, high)
    return Metric(total / n, ci, n, digits=2)


def moments(tally: Tally) -> tuple[int, float, float]:
    """(n, Σx, Σx²) of a tally."""
    n = sum(tally.values())
    total = float(sum(score * count for score, count in tally.items()))
    squares = float(sum(score * score * count for score, count in tally.items()))
    return n, total, squares


def categories(tally: Tally) -> tuple[int, int, int]:
    """(promoters, passives, detractors) of an NPS tally."""
    promoters = sum(count for score, count in tally.items() if score >= 9)
    detractors = sum(count for score, count in tally.items() if score <= 6)
    return promoters, sum(tally.values()) - promoters - detractors, detractors


def top_box(kind: str, tally: Tally) -> int:
    low, high = TOP_BOX[kind]
    return sum(count for score, count in tally.items() if low <= score <= high)


def scored_metrics(kind: str, tally: Tally, level: float = LEVEL) -> dict[str, Metric]:
    """The metrics of one scored question (`kind`: nps, csat, ces or rating), by name."""
    n = sum(tally.values())
    if kind == "nps":
        promoters, passives, detractors = categories(tally)
        return {
            "nps": nps(tally, level),
            "promoters": share(promoters, n, level),
            "passives": share(passives, n, level),
            "detractors": share(detractors, n, level),
            "mean": mean(tally, level),
        }
    if kind in TOP_BOX:
        name = "satisfied" if kind == "csat" else "easy"
        return {name: share(top_box(kind, tally), n, level), "mean": mean(tally, level)}
    return {"mean": mean(tally, level)}


def choice_metrics(
    options: Sequence[str], counts: Mapping[str, int], answered: int, level: float = LEVEL
) -> dict[str, Metric]:
    """Each option's share of the people who answered (multi: the shares add up to more)."""
    return {option: share(counts.get(option, 0), answered, level) for option in options}


def headline(kind: str) -> str | None:
    """The metric a scored question is summed up by: nps, satisfied, easy or mean."""
    return {"nps": "nps", "csat": "satisfied", "ces": "easy"}.get(kind, "mean")
