"""Wave over wave: is a change distinguishable from noise?

A change carries the difference (current minus previous), its 95% interval and a
verdict: "up" or "down" when the interval excludes 0, else "no detectable
change" (the report draws no arrow on noise).

- NPS: adjusted-Wald interval of the difference of two independent NPS values.
- shares: Newcombe's hybrid score interval (method 10 of Newcombe 1998).
- means: Welch's interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cxops.analysis.intervals import (
    LEVEL,
    Interval,
    newcombe_difference,
    nps_difference_adjusted_wald,
    welch_difference,
)
from cxops.analysis.metrics import Tally, categories, moments
from cxops.analysis.report_model import Figure

NO_CHANGE = "no detectable change"


@dataclass(frozen=True, slots=True)
class Change:
    """current - previous, with its interval, over n (current) and n_previous answers."""

    value: float | None
    ci: Interval | None
    n: int
    n_previous: int
    digits: int = 1

    @property
    def verdict(self) -> str:
        if self.ci is None or self.value is None:
            return NO_CHANGE
        low, high = self.ci
        if low > 0:
            return "up"
        if high < 0:
            return "down"
        return NO_CHANGE

    def figure(self, min_n: int = 0) -> Figure:
        """`as_dict(min_n)` as the report's model."""
        return Figure.model_validate(self.as_dict(min_n))

    def as_dict(self, min_n: int = 0) -> dict[str, Any]:
        if min(self.n, self.n_previous) < min_n:
            return {"suppressed": True, "n": self.n, "n_previous": self.n_previous}
        ci = (
            None
            if self.ci is None or math.isinf(self.ci[0])
            else [round(end, needed_digits(end)) for end in self.ci]
        )
        value = None if self.value is None else round(self.value, self.digits)
        return {
            "value": value,
            "ci": ci,
            "n": self.n,
            "n_previous": self.n_previous,
            "verdict": self.verdict,
        }


def needed_digits(bound: float, digits: int = 2, most: int = 8) -> int:
    """`digits`, or as many more as a `bound` off zero needs not to round onto zero (its
    first significant digit: a change called up with a lower end of 0.0007 shows +0.0007,
    not +0.00)."""
    if bound == 0 or not math.isfinite(bound) or round(bound, digits) != 0:
        return digits
    return min(most, max(digits, -math.floor(math.log10(abs(bound)))))


def nps_change(previous: Tally, current: Tally, level: float = LEVEL) -> Change:
    """NPS(current) - NPS(previous) in points."""
    p1, _, d1 = categories(current)
    p0, _, d0 = categories(previous)
    n1, n0 = sum(current.values()), sum(previous.values())
    if n1 == 0 or n0 == 0:
        return Change(None, None, n1, n0)
    low, high = nps_difference_adjusted_wald(p1, d1, n1, p0, d0, n0, level)
    value = 100.0 * ((p1 - d1) / n1 - (p0 - d0) / n0)
    return Change(value, (100.0 * low, 100.0 * high), n1, n0)


def share_change(
    hits_previous: int, n_previous: int, hits: int, n: int, level: float = LEVEL
) -> Change:
    """share(current) - share(previous) in percentage points."""
    if n == 0 or n_previous == 0:
        return Change(None, None, n, n_previous)
    low, high = newcombe_difference(hits, n, hits_previous, n_previous, level)
    value = 100.0 * (hits / n - hits_previous / n_previous)
    return Change(value, (100.0 * low, 100.0 * high), n, n_previous)


def mean_change(previous: Tally, current: Tally, level: float = LEVEL) -> Change:
    """mean(current) - mean(previous) in the scale's units."""
    n1, s1, q1 = moments(current)
    n0, s0, q0 = moments(previous)
    if n1 < 2 or n0 < 2:
        return Change(None if not n1 or not n0 else s1 / n1 - s0 / n0, None, n1, n0, digits=2)
    ci = welch_difference(n1, s1, q1, n0, s0, q0, level)
    return Change(s1 / n1 - s0 / n0, ci, n1, n0, digits=2)
