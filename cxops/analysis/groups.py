"""One group of answers (overall, a segment, a wave): response rates and every question's
metrics, as the report's models (`cxops.analysis.report_model`) in docs/behaviour.md's
metric shape.

A group with fewer answers than `min_n` is `{"suppressed": true, "n": N}` plus its
invitations and response rate (whose n is the invitations, so a biased sample
stays visible); its question metrics are not shown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cxops.analysis.change import Change, mean_change, nps_change, share_change
from cxops.analysis.clusters import METHOD, Clustered, squares_of
from cxops.analysis.data import Cell, SurveyData
from cxops.analysis.metrics import (
    TOP_BOX,
    Tally,
    categories,
    choice_metrics,
    headline,
    scored_metrics,
    share,
    top_box,
)
from cxops.analysis.report_model import (
    Distribution,
    Figure,
    Group,
    Pooled,
    QuestionFigures,
    WaveChange,
)
from cxops.spec.models import (
    SCALES,
    MultiQuestion,
    Question,
    RatingQuestion,
    SingleQuestion,
    Survey,
)

SCORED = frozenset({"nps", "csat", "ces", "rating"})
CHOICE = frozenset({"single", "multi"})

CellFilter = Callable[[Cell], bool]


#: A template expression or statement in a survey text (`{{ contact.ticket_id }}`).
_EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def text_of(value: Any) -> str:
    """A survey text that may be per-locale (`{en: ..., de: ...}`): English, else the first;
    an expression in it (filled per person when asked) shown as "…", never raw."""
    if isinstance(value, Mapping):
        value = value["en"] if "en" in value else next(iter(value.values()), "")
    return " ".join(_EXPRESSION.sub("…", str(value)).split())


def option_names(question: Question) -> list[str]:
    """The stored names of a choice question's options (per-locale options: their first
    text); none for other questions."""
    if not isinstance(question, SingleQuestion | MultiQuestion):
        return []
    return [text_of(option) for option in question.options]


def merged(cells: Mapping[Cell, Counter[Any]], keep: CellFilter) -> Counter[Any]:
    total: Counter[Any] = Counter()
    for cell, counts in cells.items():
        if keep(cell):
            total.update(counts)
    return total


def count(counter: Mapping[Cell, int], keep: CellFilter) -> int:
    return sum(value for cell, value in counter.items() if keep(cell))


def tally_of(data: SurveyData, question_id: str, keep: CellFilter) -> Counter[Any]:
    return merged(data.tallies.get(question_id, {}), keep)


def scored_tally(question: Question, data: SurveyData, keep: CellFilter) -> Counter[int]:
    """A scored question's tally, on-scale integer scores only."""
    low, high = scale_of(question)
    return Counter(
        {
            score: n
            for score, n in tally_of(data, question.id, keep).items()
            if isinstance(score, int) and not isinstance(score, bool) and low <= score <= high
        }
    )


def group(
    survey: Survey,
    data: SurveyData,
    keep: CellFilter,
    min_n: int,
    *,
    full: bool = True,
    clusters: Mapping[str, Clustered] | None = None,
    waves: int = 1,
) -> Group:
    """The figures of the answers in the cells `keep` accepts. `full=False`: the headline
    metric of each scored question only (trend rows). `clusters` (question id -> its
    answers by contact): a group pooling `waves` waves, whose scored questions' intervals
    are then clustered by contact (`cxops.analysis.clusters`)."""
    invited = count(data.invited, keep)
    complete = sum(
        v for (w, s, st), v in data.statuses.items() if st == "complete" and keep((w, s))
    )
    partial = sum(v for (w, s, st), v in data.statuses.items() if st == "partial" and keep((w, s)))
    answers = complete + partial
    # AAPOR RR1-style: complete responses per invitation sent; partial ones apart.
    response_rate, partial_rate = (
        share(complete, invited).figure(),
        share(partial, invited).figure(),
    )
    if answers < min_n:
        return Group(
            suppressed=True,
            n=answers,
            invited=invited,
            complete=complete,
            partial=partial,
            response_rate=response_rate,
            partial_rate=partial_rate,
        )
    questions: dict[str, QuestionFigures] = {}
    for question in survey.questions:
        clustered = (clusters or {}).get(question.id)
        entry = question_figures(question, data, keep, min_n, full=full, clustered=clustered)
        if entry is not None:
            questions[question.id] = entry
    extra: dict[str, Any] = {}
    if clusters is not None and (waves > 1 or any(c.repeated for c in clusters.values())):
        main = next(iter(clusters.values()), None)
        extra["pooled"] = Pooled(
            waves=waves,
            respondents=main.contacts if main is not None else 0,
            answers_more_than_once=any(c.repeated for c in clusters.values()),
            method=METHOD,
        )
    return Group(
        **extra,
        n=answers,
        invited=invited,
        complete=complete,
        partial=partial,
        response_rate=response_rate,
        partial_rate=partial_rate,
        completion_rate=share(complete, answers).figure(min_n),
        questions=questions,
    )


def question_figures(
    question: Question,
    data: SurveyData,
    keep: CellFilter,
    min_n: int,
    *,
    full: bool = True,
    clustered: Clustered | None = None,
) -> QuestionFigures | None:
    kind = question.type
    text = text_of(question.text)
    if kind in SCORED:
        tally = scored_tally(question, data, keep)
        metrics = scored_metrics(kind, tally)
        name = headline(kind) or "mean"
        if not full:
            metrics = {name: metrics[name]}
        if clustered is not None:
            metrics = {
                key: clustered.metric(key, metric, squares_of(key, tally, kind))
                for key, metric in metrics.items()
            }
        figures = {key: metric.figure(min_n) for key, metric in metrics.items()}
        n = sum(tally.values())
        if not full:
            return QuestionFigures(type=kind, text=text, headline=name, n=n, metrics=figures)
        return QuestionFigures(
            type=kind,
            text=text,
            headline=name,
            n=n,
            metrics=figures,
            distribution=distribution(question, tally, min_n),
        )
    if kind in CHOICE and full:
        answered = count(data.answered.get(question.id, Counter()), keep)
        counts = tally_of(data, question.id, keep)
        names = option_names(question)
        names += sorted(str(k) for k in counts if str(k) not in names)
        metrics = choice_metrics(names, {str(k): v for k, v in counts.items()}, answered)
        return QuestionFigures(
            type=kind,
            text=text,
            n=answered,
            metrics={key: metric.figure(min_n) for key, metric in metrics.items()},
        )
    return None


def scale_of(question: Question) -> tuple[int, int]:
    """The score range of a scored question (KeyError for others)."""
    if isinstance(question, RatingQuestion):
        return (question.min, question.max)
    return SCALES[question.type]


def distribution(question: Question, tally: Tally, min_n: int) -> Distribution:
    """Answers per score of the whole scale (0..10 for NPS), or suppressed."""
    n = sum(tally.values())
    if n < min_n:
        return Distribution(suppressed=True, n=n)
    low, high = scale_of(question)
    counts = {str(score): tally.get(score, 0) for score in range(low, high + 1)}
    return Distribution(n=n, counts=counts)


def changes(
    survey: Survey,
    data: SurveyData,
    previous: Sequence[str],
    current: Sequence[str],
    previous_name: str,
    current_name: str,
    min_n: int,
) -> WaveChange:
    """Every metric of the waves `current` (period `current_name`) against the waves
    `previous`."""
    before, after = in_waves(previous), in_waves(current)
    invited0, invited1 = count(data.invited, before), count(data.invited, after)
    done0 = sum(v for (w, s, st), v in data.statuses.items() if st == "complete" and before((w, s)))
    done1 = sum(v for (w, s, st), v in data.statuses.items() if st == "complete" and after((w, s)))
    response_rate = share_change(done0, invited0, done1, invited1).figure()
    questions: dict[str, dict[str, Figure]] = {}
    for question in survey.questions:
        if question.type in SCORED:
            t0, t1 = scored_tally(question, data, before), scored_tally(question, data, after)
        else:
            t0, t1 = tally_of(data, question.id, before), tally_of(data, question.id, after)
        found = _question_changes(question, data, t0, t1, before, after)
        if found:
            questions[question.id] = {name: c.figure(min_n) for name, c in found.items()}
    return WaveChange(
        from_=previous_name, to=current_name, response_rate=response_rate, questions=questions
    )


def _question_changes(
    question: Question,
    data: SurveyData,
    t0: Counter[Any],
    t1: Counter[Any],
    before: CellFilter,
    after: CellFilter,
) -> dict[str, Change]:
    kind = question.type
    n0, n1 = sum(t0.values()), sum(t1.values())
    if kind == "nps":
        p0, _, d0 = categories(t0)
        p1, _, d1 = categories(t1)
        return {
            "nps": nps_change(t0, t1),
            "promoters": share_change(p0, n0, p1, n1),
            "detractors": share_change(d0, n0, d1, n1),
            "mean": mean_change(t0, t1),
        }
    if kind in TOP_BOX:
        name = "satisfied" if kind == "csat" else "easy"
        return {
            name: share_change(top_box(kind, t0), n0, top_box(kind, t1), n1),
            "mean": mean_change(t0, t1),
        }
    if kind == "rating":
        return {"mean": mean_change(t0, t1)}
    if kind in CHOICE:
        a0 = count(data.answered.get(question.id, Counter()), before)
        a1 = count(data.answered.get(question.id, Counter()), after)
        return {
            option: share_change(t0.get(option, 0), a0, t1.get(option, 0), a1)
            for option in option_names(question)
        }
    return {}


def segments_of(data: SurveyData, waves: Iterable[str]) -> list[str]:
    wanted = set(waves)
    cells: set[Cell] = set(data.invited) | {(w, s) for w, s, _ in data.statuses}
    return sorted({segment for wave, segment in cells if wave in wanted})


def in_waves(waves: Sequence[str]) -> CellFilter:
    wanted = frozenset(waves)
    return lambda cell: cell[0] in wanted
