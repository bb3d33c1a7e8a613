"""The report's numbers: one `Report` model (`cxops.analysis.report_model`; its
`document()` is `cxops report --json`), from which the HTML page, its charts and the
Prefect artifacts are all drawn.

Scope: without `wave`, `overall` and `by_segment` pool every wave; with it, that wave
alone, and `by_wave` stops at it. `changes` compare each wave with the one before
(the last pair is the headline). Pure given its inputs; `build_from_store` is the edge.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cxops.analysis.data import SurveyData
from cxops.analysis.groups import CellFilter, changes, group, in_waves, segments_of
from cxops.analysis.loop import loop_section
from cxops.analysis.report_model import (
    Excluded,
    Loop,
    LoopOutcome,
    Provenance,
    Report,
    SurveyRef,
)
from cxops.analysis.themes import themes_section
from cxops.errors import CxopsError
from cxops.wave_labels import wave_label

if TYPE_CHECKING:
    from cxops.settings import Settings
    from cxops.spec.models import Survey

REPORT_VERSION = 1


class ReportError(CxopsError):
    """A report cannot be made as asked (an unknown wave, say)."""


def build_report(
    survey: Survey,
    data: SurveyData,
    *,
    wave: str | None,
    min_n: int,
    outcomes: Mapping[str, Any] | None,
    provenance: Mapping[str, Any],
) -> Report:
    """The whole report."""
    if wave is not None and wave not in data.waves:
        known = ", ".join(data.waves[-5:]) or "none yet"
        raise ReportError(f"survey {survey.id}: no wave {wave!r} (latest waves: {known})")
    waves = data.waves[: data.waves.index(wave) + 1] if wave is not None else list(data.waves)
    scope = [wave] if wave is not None else waves
    keep = in_waves(scope)
    by_segment = {
        segment: group(survey, data, _segment_filter(scope, segment), min_n)
        for segment in segments_of(data, scope)
    }
    by_wave = {name: group(survey, data, in_waves([name]), min_n, full=False) for name in waves}
    pairs = list(itertools.pairwise(waves))
    in_scope, in_waves_shown = set(scope), set(waves)
    scoped_comments = [c for c in data.comments if c.wave in in_scope]
    scoped_cases = [c for c in data.loop if c.wave in in_waves_shown]
    main = survey.main_question
    loop: Loop | None = None
    if main is not None and main.type in ("nps", "csat", "ces"):
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
            outcome=None
            if outcome is None
            else LoopOutcome(
                column=outcome.column,
                churned=outcome.churned,
                as_of="next wave, else source now",
            ),
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
        min_n=min_n,
        level=0.95,
        excluded=Excluded(
            suspect=dict(sorted(data.suspect.items())), total=sum(data.suspect.values())
        ),
        overall=group(survey, data, keep, min_n),
        by_segment=by_segment,
        by_wave=by_wave,
        changes=[changes(survey, data, a, b, min_n) for a, b in pairs],
        themes=themes_section(survey, scoped_comments, min_n),
        loop=loop,
        provenance=Provenance.model_validate(provenance),
    )


def _segment_filter(waves: list[str], segment: str) -> CellFilter:
    wanted = frozenset(waves)
    return lambda cell: cell[0] in wanted and cell[1] == segment


def build_from_store(
    survey: Survey, settings: Settings, *, wave: str | None = None, now: datetime | None = None
) -> Report:
    """Read the store and the survey's source, then build the report (the I/O edge)."""
    from cxops.analysis.data import load_survey_data
    from cxops.analysis.experiment import with_experiment
    from cxops.analysis.experiment_data import ExperimentData, load_experiment_data
    from cxops.analysis.outcomes import outcome_values
    from cxops.analysis.provenance import provenance
    from cxops.store.db import open_store, store_exists

    with _collector_paused():
        experiment = ExperimentData()
        if not store_exists(settings.store_url):
            data = SurveyData(waves=[])
        else:
            store = open_store(settings.store_url)
            try:
                data = load_survey_data(store, survey)
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
            survey, data, wave=wave, min_n=settings.min_n, outcomes=outcomes, provenance=facts
        )
        return with_experiment(report, survey, experiment)


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
