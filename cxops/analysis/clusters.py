"""Intervals for pooled figures when people answered more than once.

A figure pooled over several waves (or over a month of daily waves) counts each answer;
someone who answered every wave is in it several times, and their answers are alike.
Treating them as independent makes the interval too narrow. Here the answers are
clustered by contact:

- the cluster-robust (sandwich, CR1) variance of the pooled mean of y,
  `G/(G-1) · Σ_c (Σ_{i∈c} y_i − n_c·ȳ)² / N²` over G contacts and N answers
  (Liang & Zeger 1986; Cameron & Miller 2015, "A practitioner's guide to
  cluster-robust inference"), for y the NPS points (+1 promoter, −1 detractor), the
  indicator of a share, or the score of a mean;
- its design effect against simple random sampling, `deff = Var_cluster / Var_srs`
  (never below 1), gives the effective sample size `N / deff` (Kish 1965);
- each figure keeps its own method at that effective size: NPS adjusted-Wald (Rocks
  2016), Wilson for shares; a mean is `ȳ ± t_{G−1} · SE_cluster`.

What the database returns is small: per cell, contacts grouped by their own
(answers, promoters, detractors, top box, sum of scores), a GROUP BY over a GROUP BY.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, case, cast, column, func, select, values
from sqlalchemy.engine import Connection

from cxops.analysis.data import answer_value
from cxops.analysis.metrics import Metric
from cxops.intervals import LEVEL, t_quantile, z_quantile
from cxops.spec.models import TOP_BOX
from cxops.store.models import Response

#: One contact's answers in a cell: (answers, promoters, detractors, top box, Σ score).
Contact = tuple[int, int, int, int, int]
#: (bucket, segment) -> contact shape -> how many contacts have it.
ClusterCells = dict[tuple[str, str], Counter[Contact]]

METHOD = (
    "respondent-clustered: the cluster-robust (CR1) variance by contact gives a design "
    "effect; each interval is its own method at the effective sample size n / deff "
    "(a mean: t with contacts − 1 degrees of freedom)"
)

_responses = Response.__table__


def cluster_cells(
    conn: Connection,
    survey_id: str,
    question_id: str,
    kind: str,
    scale: tuple[int, int],
    buckets: Sequence[tuple[str, str]],
) -> ClusterCells:
    """Per (bucket, segment): the contacts' answer shapes to one scored question, for the
    (wave, bucket) pairs in `buckets` (a wave may be in several buckets)."""
    if not buckets:
        return {}
    r = _responses.c
    pairs = values(column("wave_id", String), column("bucket", String), name="report_buckets")
    table = pairs.data(list(buckets)).cte("report_buckets")
    sqlite = conn.dialect.name == "sqlite"
    answers = (
        select(
            table.c.bucket,
            r.segment,
            r.contact_key,
            answer_value(question_id, conn.dialect.name).label("v"),
        )
        .select_from(_responses.join(table, table.c.wave_id == r.wave_id))
        .where(r.survey_id == survey_id, r.confirmed_at.is_not(None), r.suspect.is_(False))
    )
    if sqlite:
        # A subquery with a LIMIT is not flattened into the GROUP BY above it: the answer
        # is extracted once per row, not once per aggregate (about a third faster).
        answers = answers.limit(-1)
    rows = answers.subquery()
    raw = rows.c.v
    if sqlite:
        score: Any = raw
        valid = func.typeof(raw) == "integer"
    else:
        valid = raw.op("~")(r"^-?[0-9]+$")
        score = cast(func.nullif(func.coalesce(raw, ""), ""), Integer)
    low, high = scale
    top_low, top_high = TOP_BOX.get(kind, (high + 1, high + 1))

    def where(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    inner = (
        select(
            rows.c.bucket,
            rows.c.segment,
            func.count().label("n"),
            where(score >= 9).label("p"),
            where(score <= 6).label("d"),
            where(score.between(top_low, top_high)).label("t"),
            func.sum(score).label("s"),
        )
        .where(valid, score.between(low, high))
        .group_by(rows.c.bucket, rows.c.segment, rows.c.contact_key)
        .subquery()
    )
    i = inner.c
    shapes = [i.n, i.p, i.d, i.t, i.s]
    found: ClusterCells = {}
    for row in conn.execute(
        select(i.bucket, i.segment, *shapes, func.count()).group_by(i.bucket, i.segment, *shapes)
    ):
        bucket, segment, n, p, d, t, s, contacts = tuple(row)
        found.setdefault((bucket, segment), Counter())[(n, p, d, t, s or 0)] += contacts
    return found


def merged(cells: ClusterCells, keep: Any) -> Counter[Contact]:
    """The contact shapes of the cells `keep((bucket, segment))` accepts."""
    total: Counter[Contact] = Counter()
    for cell, shapes in cells.items():
        if keep(cell):
            total.update(shapes)
    return total


@dataclass(frozen=True, slots=True)
class Clustered:
    """What the pooled intervals of one question in one group rest on."""

    answers: int
    contacts: int
    shapes: Counter[Contact]

    @classmethod
    def of(cls, shapes: Counter[Contact]) -> Clustered:
        answers = sum(shape[0] * count for shape, count in shapes.items())
        return cls(answers, sum(shapes.values()), shapes)

    @property
    def repeated(self) -> bool:
        """Whether anyone answered more than once."""
        return any(shape[0] > 1 for shape in self.shapes)

    def _y(self, metric: str, shape: Contact) -> float:
        n, p, d, t, s = shape
        return {
            "nps": p - d,
            "promoters": p,
            "detractors": d,
            "passives": n - p - d,
            "satisfied": t,
            "easy": t,
            "mean": s,
        }[metric]

    def variances(self, metric: str, squares: float) -> tuple[float, float, float]:
        """(ȳ, Var_cluster, Var_srs) of the pooled mean of y; `squares`: Σ y² over answers."""
        big_n, g = self.answers, self.contacts
        total = sum(self._y(metric, shape) * count for shape, count in self.shapes.items())
        mean = total / big_n
        between = sum(
            (self._y(metric, shape) - shape[0] * mean) ** 2 * count
            for shape, count in self.shapes.items()
        )
        var_cluster = g / (g - 1) * between / big_n**2 if g > 1 else math.inf
        var_srs = max(squares / big_n - mean * mean, 0.0) / big_n
        return mean, var_cluster, var_srs

    def metric(self, metric: str, plain: Metric, squares: float, level: float = LEVEL) -> Metric:
        """`plain` (the figure as if every answer were independent) with its interval
        clustered by contact; unchanged when nobody answered twice."""
        if plain.value is None or not self.repeated or self.answers != plain.n:
            return plain
        mean, var_cluster, var_srs = self.variances(metric, squares)
        if metric == "mean":
            if self.contacts < 2 or not math.isfinite(var_cluster):
                return plain
            half = t_quantile(level, self.contacts - 1) * math.sqrt(var_cluster)
            return Metric(plain.value, (mean - half, mean + half), plain.n, digits=plain.digits)
        deff = max(1.0, var_cluster / var_srs) if var_srs > 0 else 1.0
        if not math.isfinite(deff):
            return plain
        effective = self.answers / deff
        if metric == "nps":
            ps = sum(shape[1] * c for shape, c in self.shapes.items()) / self.answers
            ds = sum(shape[2] * c for shape, c in self.shapes.items()) / self.answers
            low, high = _nps_interval(ps * effective, ds * effective, effective, level)
        else:
            low, high = _wilson(mean, effective, level)
        return Metric(plain.value, (100.0 * low, 100.0 * high), plain.n, digits=plain.digits)


def squares_of(metric: str, tally: Mapping[int, int], kind: str) -> float:
    """Σ y² over the answers of a tally (y as in `Clustered`)."""
    total = 0.0
    for score, count in tally.items():
        if metric == "mean":
            total += score * score * count
        elif metric == "nps":
            total += (score >= 9 or score <= 6) * count
        else:
            total += _indicator(metric, kind, score) * count
    return total


def _indicator(metric: str, kind: str, score: int) -> bool:
    if metric == "promoters":
        return score >= 9
    if metric == "detractors":
        return score <= 6
    if metric == "passives":
        return 7 <= score <= 8
    low, high = TOP_BOX[kind]
    return low <= score <= high


def _wilson(p: float, n: float, level: float) -> tuple[float, float]:
    """Wilson's score interval at a (possibly fractional) effective n."""
    z = z_quantile(level)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _nps_interval(
    promoters: float, detractors: float, n: float, level: float
) -> tuple[float, float]:
    """Rocks' adjusted-Wald NPS interval (`cxops.intervals.nps_adjusted_wald`) at a
    (possibly fractional) effective n."""
    n_adj = n + 3
    pp, pd = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
    nps = pp - pd
    half = z_quantile(level) * math.sqrt((pp + pd - nps * nps) / n_adj)
    return max(-1.0, nps - half), min(1.0, nps + half)


def cluster_for(cells: Mapping[str, ClusterCells], keep: Any) -> dict[str, Clustered]:
    """question id -> the clustered shapes of the cells `keep` accepts."""
    return {qid: Clustered.of(merged(by_cell, keep)) for qid, by_cell in cells.items()}


def scored_ids(questions: Sequence[Any]) -> list[str]:
    return [q.id for q in questions if q.type in ("nps", "csat", "ces", "rating")]
