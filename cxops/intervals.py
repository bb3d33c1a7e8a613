"""Confidence intervals: one pure function per method, each naming its paper.

Every function takes counts (or sums) and a confidence level and returns
`(low, high)` as fractions (proportions in 0..1, NPS in -1..1, means in the
scale's units). Nothing here knows about surveys; `cxops.analysis.metrics` turns
the results into the report's `{value, ci, n}` shape, and the quota gate
(`cxops.gates.quota`) asks whether a segment's interval is narrow enough, so this is a
leaf every layer may import (`cxops.analysis.intervals` re-exports it). Standard library only: the
normal quantile is `statistics.NormalDist`, the Student t quantile is computed
here from the regularised incomplete beta function (no SciPy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from statistics import NormalDist

Interval = tuple[float, float]

#: The confidence level every report uses.
LEVEL = 0.95


def z_quantile(level: float = LEVEL) -> float:
    """The two-sided standard normal quantile z_{1-α/2} for confidence `level` (1.95996… at 95%)."""
    _check_level(level)
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> Interval:
    """Wilson score interval for a binomial proportion, without continuity correction.

    Wilson, E. B. (1927), "Probable inference, the law of succession, and statistical
    inference", JASA 22: 209-212; method 3 of Newcombe, R. G. (1998), "Two-sided
    confidence intervals for the single proportion: comparison of seven methods",
    Statistics in Medicine 17: 857-872 (worked examples: 81/263 -> 0.2553-0.3662,
    15/148 -> 0.0624-0.1605). Same as statsmodels' `proportion_confint(method="wilson")`.

    For n = 0 the interval is the whole range (0, 1): nothing is known.
    """
    _check_counts(successes, n)
    if n == 0:
        return (0.0, 1.0)
    z = z_quantile(level)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def newcombe_difference(
    successes1: int, n1: int, successes2: int, n2: int, level: float = LEVEL
) -> Interval:
    """Newcombe's hybrid score interval for p1 - p2 of two independent proportions.

    Method 10 of Newcombe, R. G. (1998), "Interval estimation for the difference
    between independent proportions: comparison of eleven methods", Statistics in
    Medicine 17: 873-890. From the Wilson intervals (l1, u1) and (l2, u2):
    low = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), high = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
    Worked examples in the paper's Table II, e.g. 56/70 vs 48/80 -> 0.0524-0.3339.
    """
    _check_counts(successes1, n1)
    _check_counts(successes2, n2)
    if n1 == 0 or n2 == 0:
        return (-1.0, 1.0)
    p1, p2 = successes1 / n1, successes2 / n2
    l1, u1 = wilson_interval(successes1, n1, level)
    l2, u2 = wilson_interval(successes2, n2, level)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (max(-1.0, low), min(1.0, high))


def _adjusted_nps(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    """Rocks' adjusted NPS (fraction) and its variance: ¾ added to promoters and to
    detractors, 3 to n (so 1½ to passives)."""
    n_adj = n + 3
    pp = (promoters + 0.75) / n_adj
    pd = (detractors + 0.75) / n_adj
    nps = pp - pd
    return nps, (pp + pd - nps * nps) / n_adj


def nps_adjusted_wald(promoters: int, detractors: int, n: int, level: float = LEVEL) -> Interval:
    """Adjusted-Wald interval for the NPS, a difference of two dependent proportions.

    Rocks, B. (2016), "Interval Estimation for the 'Net Promoter Score'", The American
    Statistician 70(4): 365-372: add ¾ to the promoters and to the detractors and 3
    to n, then a Wald interval with Var = (p_P + p_D - (p_P - p_D)^2) / n. As fractions
    of -1..1: 50 promoters, 30 passives, 20 detractors of 100 -> 0.1405-0.4420.
    """
    nps, _ = _adjusted_nps(promoters, detractors, n)
    half = nps_adjusted_wald_margin(promoters, detractors, n, level)
    return (max(-1.0, nps - half), min(1.0, nps + half))


def nps_adjusted_wald_margin(
    promoters: int, detractors: int, n: int, level: float = LEVEL
) -> float:
    """The half-width of `nps_adjusted_wald` before it is clipped to -1..1 (a fraction):
    z·sqrt(Var) of Rocks (2016). 50/30/20 of 100 -> 0.1508; nothing known (n = 0) -> 0.8001.
    """
    _check_counts(promoters + detractors, n)
    _check_counts(promoters, n)
    _check_counts(detractors, n)
    _, variance = _adjusted_nps(promoters, detractors, n)
    return z_quantile(level) * math.sqrt(variance)


def nps_difference_adjusted_wald(
    promoters1: int,
    detractors1: int,
    n1: int,
    promoters2: int,
    detractors2: int,
    n2: int,
    level: float = LEVEL,
) -> Interval:
    """Adjusted-Wald interval for NPS1 - NPS2 of two independent samples (fractions, -2..2).

    Each NPS adjusted as in Rocks (2016) (¾ to promoters and detractors, 3 to n); the
    difference of the adjusted values ± z·sqrt(Var1 + Var2), as Sauro & Lewis apply
    it to compare two Net Promoter Scores (MeasuringU, "How to Statistically Compare
    Two Net Promoter Scores"; Quantifying the User Experience, 2nd ed., ch. 5).
    """
    for p, d, n in ((promoters1, detractors1, n1), (promoters2, detractors2, n2)):
        _check_counts(p + d, n)
    nps1, var1 = _adjusted_nps(promoters1, detractors1, n1)
    nps2, var2 = _adjusted_nps(promoters2, detractors2, n2)
    half = z_quantile(level) * math.sqrt(var1 + var2)
    return (max(-2.0, nps1 - nps2 - half), min(2.0, nps1 - nps2 + half))


def t_interval(n: int, total: float, total_squares: float, level: float = LEVEL) -> Interval:
    """Student t interval for a mean from n, Σx and Σx²: mean ± t_{1-α/2, n-1}·s/√n.

    Student (1908), "The probable error of a mean", Biometrika 6(1): 1-25. Needs
    n >= 2 (with n < 2 the spread is unknown: the interval is infinite both ways).
    """
    if n < 2:
        return (-math.inf, math.inf)
    mean = total / n
    variance = max(0.0, (total_squares - n * mean * mean) / (n - 1))
    half = t_quantile(level, n - 1) * math.sqrt(variance / n)
    return (mean - half, mean + half)


def welch_difference(
    n1: int,
    total1: float,
    squares1: float,
    n2: int,
    total2: float,
    squares2: float,
    level: float = LEVEL,
) -> Interval:
    """Welch's interval for mean1 - mean2 with unequal variances, Welch-Satterthwaite df.

    Welch, B. L. (1947), "The generalization of 'Student's' problem when several
    different population variances are involved", Biometrika 34: 28-35.
    """
    if n1 < 2 or n2 < 2:
        return (-math.inf, math.inf)
    m1, m2 = total1 / n1, total2 / n2
    v1 = max(0.0, (squares1 - n1 * m1 * m1) / (n1 - 1)) / n1
    v2 = max(0.0, (squares2 - n2 * m2 * m2) / (n2 - 1)) / n2
    se2 = v1 + v2
    if se2 == 0:
        return (m1 - m2, m1 - m2)
    df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    half = t_quantile(level, df) * math.sqrt(se2)
    return (m1 - m2 - half, m1 - m2 + half)


# -- the Student t quantile ------------------------------------------------------------


@lru_cache(maxsize=4096)
def t_quantile(level: float, df: float) -> float:
    """The two-sided Student t quantile t_{1-α/2, df} (12.706 for df 1 at 95%).

    Found by bisection on the t distribution function, itself the regularised
    incomplete beta function I_x(df/2, 1/2) with x = df / (df + t²) (Abramowitz &
    Stegun 26.7.1 and 26.5.27), evaluated by its continued fraction (Numerical
    Recipes, 3rd ed., §6.4, modified Lentz). Accurate to about 1e-10.
    """
    _check_level(level)
    if df <= 0:
        raise ValueError(f"expected degrees of freedom > 0, found {df}")
    tail = (1 - level) / 2  # P(T > t) wanted
    low, high = 0.0, 1.0
    while _t_upper_tail(high, df) > tail:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if _t_upper_tail(mid, df) > tail:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0: half the regularised incomplete beta I_{df/(df+t²)}(df/2, ½)."""
    x = df / (df + t * t)
    return 0.5 * _regularized_beta(x, df / 2, 0.5)


def _regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), by the continued fraction on the side where it converges fast."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(x, a, b) / a
    return 1 - front * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return result


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"expected a confidence level between 0 and 1, found {level}")


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"expected 0 <= successes <= n, found {successes} of {n}")


def mantel_haenszel_difference(
    strata: Sequence[tuple[int, int, int, int]], level: float = LEVEL
) -> tuple[float, Interval] | None:
    """The Mantel-Haenszel risk difference p1 - p0 over strata `(x1, n1, x0, n0)` and its
    Wald interval with Sato's variance (None when no stratum has both groups).

    RD = Σ (x1·n0 - x0·n1)/N / Σ n1·n0/N; Var = (RD·ΣP + ΣQ) / (Σ n1·n0/N)², with
    P = (n1²·x0 - n0²·x1 + n1·n0·(n0 - n1)/2) / N² and Q = (x1·(n0 - x0) + x0·(n1 - x1)) / (2N)
    (Sato, T. (1989), "On the variance estimator for the Mantel-Haenszel risk difference",
    Biometrics 45: 1323-1324; consistent for many sparse strata and for few large ones).
    With one stratum it is the Wald difference, Var = p1(1-p1)/n1 + p0(1-p0)/n0.
    Strata missing either group carry no weight."""
    weight = numerator = p_sum = q_sum = 0.0
    for x1, n1, x0, n0 in strata:
        total = n1 + n0
        if n1 == 0 or n0 == 0:
            continue
        weight += n1 * n0 / total
        numerator += (x1 * n0 - x0 * n1) / total
        p_sum += (n1 * n1 * x0 - n0 * n0 * x1 + n1 * n0 * (n0 - n1) / 2) / total**2
        q_sum += (x1 * (n0 - x0) + x0 * (n1 - x1)) / (2 * total)
    if weight == 0:
        return None
    difference = numerator / weight
    variance = max(0.0, (difference * p_sum + q_sum) / weight**2)
    half = z_quantile(level) * math.sqrt(variance)
    return difference, (max(-1.0, difference - half), min(1.0, difference + half))
