"""The report's numbers: one `Report` model (`cxops.analysis.report_model`; its
`document()` is `cxops report --json`), from which the HTML page, its charts and the
Prefect artifacts are all drawn.

Scope: without `wave`, `overall`, `by_segment` and the cuts pool every wave (labelled
`pooled`, intervals clustered by person); with it, that wave alone, and the periods
(`--by`) stop at it. The headline is the latest period with answers; `changes` compare
each period with the one before it that has answers. Complementary suppression is applied
to every partition of the overall figures. Pure given its inputs; `build_from_store` is
the edge.
"""

from __future__ import annotations

import gc
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cxops.analysis.clusters import ClusterCells, cluster_for
from cxops.analysis.data import SurveyData
from cxops.analysis.groups import CellFilter, changes, group, in_waves, segments_of
from cxops.analysis.loop import loop_section
from cxops.analysis.periods import PERIODS, Periods, group_waves
from cxops.analysis.report_model import (
    Excluded,
    Group,
    Headline,
    Loop,
    LoopOutcome,
    Provenance,
    Report,
    SurveyRef,
)
from cxops.analysis.suppression import protect, protect_changes, same_hiding
from cxops.analysis.themes import themes_section
from cxops.errors import CxopsError
from cxops.wave_labels import wave_label

if TYPE_CHECKING:
    from cxops.settings import Settings
    from cxops.spec.models import Survey

REPORT_VERSION = 2


class ReportError(CxopsError):
    """A report cannot be made as asked (an unknown wave, say)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Which waves a report covers: `waves` (the trend, up to `--wave`), `scope` (what the
    overall and segment figures pool: that wave, or all of them) and their periods."""

    waves: list[str]
    scope: list[str]
    periods: Periods

    def buckets(self) -> dict[str, list[str]]:
        """wave -> the groups pooling several waves it is in (`POOLED` and its period)."""
        found: dict[str, list[str]] = {}
        if len(self.scope) > 1:
            for wave in self.scope:
                found.setdefault(wave, []).append(POOLED)
        for period, held in self.periods.waves.items():
            if len(held) > 1:
                for wave in held:
                    found.setdefault(wave, []).append(period)
        return found


#: The cluster bucket of every wave in scope (the overall and segment figures).
POOLED = "*"


def plan_scope(survey: Survey, data: SurveyData, wave: str | None, by: str | None) -> Scope:
    """The waves, scope and periods of a report (ReportError for an unknown wave or `by`)."""
    if wave is not None and wave not in data.waves:
        known = ", ".join(data.waves[-5:]) or "none yet"
        raise ReportError(f"survey {survey.id}: no wave {wave!r} (latest waves: {known})")
    if by is not None and by not in PERIODS:
        raise ReportError(f"--by {by!r}: expected one of {', '.join(PERIODS)}")
    waves = data.waves[: data.waves.index(wave) + 1] if wave is not None else list(data.waves)
    scope = [wave] if wave is not None else waves
    every = group_waves(data.waves, data.first_sent, data.started, by, survey.timezone)
    periods = group_waves(waves, data.first_sent, data.started, every.by, survey.timezone)
    return Scope(waves, scope, periods)


def build_report(
    survey: Survey,
    data: SurveyData,
    *,
    wave: str | None,
    min_n: int,
    outcomes: Mapping[str, Any] | None,
    provenance: Mapping[str, Any],
    by: str | None = None,
    clusters: Mapping[str, ClusterCells] | None = None,
    now: datetime | None = None,
    cuts: Mapping[str, SurveyData] | None = None,
) -> Report:
    """The whole report. `by`: what a period is (None: `wave` when the survey's waves are
    a week apart or more, else `month`); `clusters`: question id -> its answers by contact
    in each pooled group (`cxops.analysis.clusters.cluster_cells`; None: intervals as if
    every answer came from someone else); `now`: when the source's outcome column is read
    (the loop compares only tasks due before then); `cuts`: contact column -> the counts
    with that column in place of the segment (`--cut`)."""
    plan = plan_scope(survey, data, wave, by)
    waves, scope, periods = plan.waves, plan.scope, plan.periods
    keep = in_waves(scope)
    cells = clusters or {}
    pooled_by = _pooled(cells, POOLED, len(scope)) if len(scope) > 1 else None
    by_segment = {
        segment: group(
            survey,
            data,
            _segment_filter(scope, segment),
            min_n,
            **_clustered(pooled_by, _in_segment(segment)),
        )
        for segment in segments_of(data, scope)
    }
    by_period: dict[str, Group] = {}
    full_period: dict[str, Group] = {}
    for period in periods.order:
        held = list(periods.waves[period])
        clustered = (
            _clustered(_pooled(cells, period, len(held)), lambda cell: True)
            if len(held) > 1
            else {}
        )
        by_period[period] = group(survey, data, in_waves(held), min_n, full=False, **clustered)
        full_period[period] = group(survey, data, in_waves(held), min_n, **clustered)
    overall = group(survey, data, keep, min_n, **_clustered(pooled_by, lambda cell: True))
    by_segment = protect(overall, by_segment, min_n)
    if wave is None:  # the periods then partition the overall figures
        by_period = protect(overall, by_period, min_n)
    answered = [p for p in periods.order if by_period[p].n > 0]
    pairs = list(itertools.pairwise(answered))
    in_scope, in_waves_shown = set(scope), set(waves)
    scoped_comments = [c for c in data.comments if c.wave in in_scope]
    scoped_cases = [c for c in data.loop if c.wave in in_waves_shown]
    main = survey.main_question
    loop: Loop | None = None
    if main is not None and main.type in ("nps", "csat", "ces") and survey.followup:
        outcome = survey.report.outcome
        loop = loop_section(
            main.type,
            scoped_cases,
            data.later_scores,
            data.waves,
            outcomes=outcomes,
            wave_outcomes=data.wave_outcomes,
            churned_value=outcome.churned if outcome is not None else None,
            min_n=min_n,
            wave_times={**data.started, **data.first_sent},
            now=now,
            outcome=None
            if outcome is None
            else LoopOutcome(
                column=outcome.column,
                churned=outcome.churned,
                as_of="next wave, else source now",
            ),
        )
    extra: dict[str, Any] = {}
    if cuts:
        extra["cuts"] = {
            column: protect(
                overall,
                {
                    value: group(survey, counts, _segment_filter(scope, value), min_n)
                    for value in segments_of(counts, scope)
                },
                min_n,
            )
            for column, counts in cuts.items()
        }
    if answered:
        latest = answered[-1]
        extra["headline"] = Headline(
            period=latest,
            label=periods.labels[latest],
            group=same_hiding(full_period[latest], by_period[latest]),
        )
    return Report(
        report_version=REPORT_VERSION,
        survey=SurveyRef(id=survey.id, name=survey.name, kind=survey.kind),
        wave=wave,
        waves=waves,
        # The ids are schedule slots; people also need when each wave went out.
        wave_labels={
            name: wave_label(name, data.first_sent.get(name), survey.timezone) for name in waves
        },
        first_sent_at={
            name: data.first_sent[name].isoformat() for name in waves if name in data.first_sent
        },
        by=periods.by,
        periods=list(periods.order),
        period_waves={period: list(held) for period, held in periods.waves.items()},
        period_labels=dict(periods.labels),
        min_n=min_n,
        level=0.95,
        excluded=_excluded(data, in_scope),
        **{key: extra.pop(key) for key in ("headline",) if key in extra},
        overall=overall,
        by_segment=by_segment,
        by_period=by_period,
        **extra,
        changes=protect_changes(
            [
                changes(survey, data, list(periods.waves[a]), list(periods.waves[b]), a, b, min_n)
                for a, b in pairs
            ],
            by_period,
        ),
        themes=themes_section(survey, scoped_comments, min_n),
        loop=loop,
        provenance=Provenance.model_validate(provenance),
    )


def _excluded(data: SurveyData, scope: set[str]) -> Excluded:
    """The suspect answers of the waves in scope, by reason."""
    reasons: Counter[str] = Counter()
    for (wave, reason), count in data.suspect.items():
        if wave in scope:
            reasons[reason] += count
    return Excluded(suspect=dict(sorted(reasons.items())), total=sum(reasons.values()))


def _in_segment(segment: str) -> Callable[[tuple[str, str]], bool]:
    return lambda cell: cell[1] == segment


def _segment_filter(waves: list[str], segment: str) -> CellFilter:
    wanted = frozenset(waves)
    return lambda cell: cell[0] in wanted and cell[1] == segment


_Pooling = tuple[dict[str, ClusterCells], int]


def _pooled(cells: Mapping[str, ClusterCells], bucket: str, waves: int) -> _Pooling:
    """Each question's contact shapes in one bucket, and how many waves it pools."""
    return (
        {
            qid: {cell: shapes for cell, shapes in by_cell.items() if cell[0] == bucket}
            for qid, by_cell in cells.items()
        },
        waves,
    )


def _clustered(pooling: _Pooling | None, keep: Callable[[tuple[str, str]], bool]) -> dict[str, Any]:
    """`group`'s keyword arguments for a pooled group (nothing when it pools nothing)."""
    if pooling is None or not pooling[0]:
        return {}
    cells, waves = pooling
    return {"clusters": cluster_for(cells, keep), "waves": waves}


def build_from_store(
    survey: Survey,
    settings: Settings,
    *,
    wave: str | None = None,
    now: datetime | None = None,
    by: str | None = None,
    cut: Sequence[str] = (),
) -> Report:
    """Read the store and the survey's source, then build the report (the I/O edge);
    `cut`: contact columns the ledger keeps, each shown as its own partition."""
    _check_cuts(survey, settings, cut)
    from sqlalchemy.engine import Connection

    from cxops.analysis.clusters import cluster_cells
    from cxops.analysis.data import cut_counts, load_survey_data
    from cxops.analysis.experiment import with_experiment
    from cxops.analysis.experiment_data import ExperimentData, load_experiment_data
    from cxops.analysis.groups import SCORED, scale_of
    from cxops.analysis.outcomes import outcome_values
    from cxops.analysis.provenance import provenance
    from cxops.store.db import open_store, store_exists

    with _collector_paused():
        experiment = ExperimentData()
        clusters: dict[str, ClusterCells] = {}
        cuts: dict[str, SurveyData] = {}

        def read_clusters(conn: Connection, counts: SurveyData) -> None:
            pairs = sorted(
                (wave_id, bucket)
                for wave_id, buckets in plan_scope(survey, counts, wave, by).buckets().items()
                for bucket in buckets
            )
            for column in cut:
                cuts[column] = cut_counts(conn, survey, column, counts)
            for question in survey.questions:
                if pairs and question.type in SCORED:
                    clusters[question.id] = cluster_cells(
                        conn, survey.id, question.id, question.type, scale_of(question), pairs
                    )

        if not store_exists(settings.store_url):
            data = SurveyData(waves=[])
        else:
            store = open_store(settings.store_url)
            try:
                data = load_survey_data(store, survey, read_clusters)
                experiment = load_experiment_data(store, survey)
            finally:
                store.dispose()
        keys = {case.contact_key for case in data.loop}
        outcomes = outcome_values(survey, settings.project_dir, keys)
        canonical = data.canonical()
        if outcomes is not None:
            canonical += repr(sorted((k, str(v)) for k, v in outcomes.items()))
        stamp = now or settings.clock()
        facts = provenance(survey.source_path, settings.project_dir, canonical, stamp)
        report = build_report(
            survey,
            data,
            wave=wave,
            by=by,
            min_n=settings.min_n,
            outcomes=outcomes,
            provenance=facts,
            clusters=clusters,
            now=stamp,
            cuts=cuts,
        )
        return with_experiment(report, survey, experiment)


def _check_cuts(survey: Survey, settings: Settings, columns: Sequence[str]) -> None:
    """A cut must be a contact column the send ledger keeps (ReportError otherwise)."""
    if not columns:
        return
    from cxops.wave.minimise import kept_columns

    kept = kept_columns(survey, settings)
    for column in columns:
        if kept is not None and column not in kept:
            raise ReportError(
                f"--cut {column!r}: survey {survey.id} keeps only these contact columns: "
                f"{', '.join(sorted(kept))} (a column a template, rule or `report:` reads is kept)"
            )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a report is read and computed.

    The report keeps hundreds of thousands of tuples alive (one per comment, task and
    later answer) and makes no reference cycles of its own; each full collection would
    walk all of them again: measured, about 10 % of a report's time at 200,000 answers.
    Reference counting still frees everything; collection resumes afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
