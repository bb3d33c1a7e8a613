"""Closing the loop and what followed: detractors whose task was closed `contacted` /
`resolved` against detractors whose task was not, like for like. An association, not
an effect: who gets called back is not chosen at random.

For each answer in a negative category (NPS detractor; CSAT/CES dissatisfied) that
has a follow-up task (withdrawn tasks do not count):
- **closed**: one of its tasks is done with outcome `contacted` or `resolved`;
- **churned by the next wave**: the survey's outcome column (`report.outcome`) equals
  the churned value as the ledger kept it when the customer was invited to the survey's
  next wave (read then); when there is no next wave yet, or the customer was not
  invited to it, as the source says now (read now). Customers found in neither are
  unknown, not churned;
- **rescued**: the customer's next answer (in a later wave, read when that wave went
  out) is no longer negative; only those who answered again count.

Only answers whose task was due before their outcome was read are compared (a task
created minutes ago and not yet due is neither closed nor not closed yet); the others
are counted in `not_yet_due`. The comparison is the Mantel-Haenszel risk difference
stratified by segment and score category, with Sato's variance
(`cxops.intervals.mantel_haenszel_difference`). Pure: outcome values and times are
passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxops.analysis.data import LoopCase
from cxops.analysis.metrics import share
from cxops.analysis.report_model import (
    Figure,
    Loop,
    LoopComparison,
    LoopGroup,
    LoopOutcome,
    OutcomeSource,
)
from cxops.followup.category import NOT_NEGATIVE, is_negative, score_category
from cxops.intervals import mantel_haenszel_difference

CLOSING_OUTCOMES = frozenset({"contacted", "resolved"})
METHOD = (
    "Mantel-Haenszel risk difference (closed minus not closed) stratified by segment and "
    "score category, with Sato's variance and a 95% Wald interval; only answers whose task "
    "was due before the outcome was read; an association, not an effect"
)


@dataclass(slots=True)
class _Answer:
    contact_key: str
    wave: str
    stratum: tuple[str, str]
    closed: bool
    due: datetime | None


#: Per stratum: [closed with the outcome, closed, not closed with it, not closed].
_Strata = dict[tuple[str, str], list[int]]


def loop_section(
    kind: str,
    cases: Sequence[LoopCase],
    later_scores: Mapping[tuple[str, str], int | None],
    waves: Sequence[str],
    *,
    outcomes: Mapping[str, Any] | None,
    wave_outcomes: Mapping[tuple[str, str], Any] | None = None,
    churned_value: str | int | bool | None,
    min_n: int,
    outcome: LoopOutcome | None = None,
    wave_times: Mapping[str, datetime] | None = None,
    now: datetime | None = None,
) -> Loop:
    """The closing-the-loop figures. `outcomes`: contact key -> outcome column now (None
    when the survey names none); `wave_outcomes`: (contact key, wave) -> the outcome
    column in that wave's ledger snapshot; `wave_times`: wave -> when it went out (when
    its snapshot and answers were read); `now`: when the source is read."""
    at_wave = wave_outcomes or {}
    times = wave_times or {}
    answers: dict[tuple[str, str], _Answer] = {}
    for case in cases:
        category = score_category(kind, case.score)
        if not is_negative(category):
            continue
        key = (case.contact_key, case.wave)
        closed = case.task_status == "done" and (case.outcome or "") in CLOSING_OUTCOMES
        known = answers.get(key)
        if known is None:
            answers[key] = _Answer(
                case.contact_key, case.wave, (case.segment, category or ""), closed, case.due_at
            )
            continue
        known.closed = known.closed or closed
        if case.due_at is not None and (known.due is None or case.due_at < known.due):
            known.due = case.due_at
    position = {wave: index for index, wave in enumerate(waves)}
    counts = {
        name: dict.fromkeys(
            ("n", "churned", "known", "rescued", "answered_again", "next_wave", "source_now"), 0
        )
        for name in ("closed", "not_closed")
    }
    churn: _Strata = {}
    rescue: _Strata = {}
    late = {"churn": 0, "rescue": 0}
    for answer in answers.values():
        arm = "closed" if answer.closed else "not_closed"
        tally = counts[arm]
        tally["n"] += 1
        if outcomes is not None:
            told = _outcome(answer, at_wave, outcomes, waves, position)
            if told is not None:
                source, value, wave = told
                if _due_before(answer, times.get(wave) if wave else now):
                    tally["known"] += 1
                    tally[source] += 1
                    churned = _same(value, churned_value)
                    tally["churned"] += churned
                    _add(churn, answer, churned)
                else:
                    late["churn"] += 1
        following = _next_score(answer, later_scores, waves, position)
        if following is not None:
            score, wave = following
            if _due_before(answer, times.get(wave)):
                rescued = score_category(kind, score) in NOT_NEGATIVE
                tally["answered_again"] += 1
                tally["rescued"] += rescued
                _add(rescue, answer, rescued)
            else:
                late["rescue"] += 1
    sections: dict[str, LoopGroup] = {}
    for name, tally in counts.items():
        rescued_figure = share(tally["rescued"], tally["answered_again"]).figure(min_n)
        sections[name] = (
            LoopGroup(n=tally["n"], rescued=rescued_figure)
            if outcomes is None
            else LoopGroup(
                n=tally["n"],
                churned=share(tally["churned"], tally["known"]).figure(min_n),
                outcome_unknown=tally["n"] - tally["known"],
                outcome_from=OutcomeSource(
                    next_wave=tally["next_wave"], source_now=tally["source_now"]
                ),
                rescued=rescued_figure,
            )
        )
    done, other = counts["closed"], counts["not_closed"]
    rescue_rate = share(
        done["rescued"] + other["rescued"], done["answered_again"] + other["answered_again"]
    ).figure(min_n)
    if sections["closed"].rescued.suppressed or sections["not_closed"].rescued.suppressed:
        # Shown beside one group's rate, the pooled rate would tell the other's.
        rescue_rate = Figure(suppressed=True, n=rescue_rate.n)
    parts: dict[str, Any] = {}
    if outcomes is not None:
        parts["churn"] = _comparison(churn, late["churn"], min_n)
    return Loop(
        outcome=outcome,
        method=METHOD,
        negative_answers_with_tasks=len(answers),
        customers=len({answer.contact_key for answer in answers.values()}),
        closed=sections["closed"],
        not_closed=sections["not_closed"],
        **parts,
        rescue=_comparison(rescue, late["rescue"], min_n),
        rescue_rate=rescue_rate,
    )


def _due_before(answer: _Answer, read_at: datetime | None) -> bool:
    """Whether the answer's task was due before its outcome was read."""
    return answer.due is not None and read_at is not None and answer.due < read_at


def _add(strata: _Strata, answer: _Answer, hit: bool) -> None:
    cell = strata.setdefault(answer.stratum, [0, 0, 0, 0])
    offset = 0 if answer.closed else 2
    cell[offset] += hit
    cell[offset + 1] += 1


def _comparison(strata: _Strata, not_yet_due: int, min_n: int) -> LoopComparison:
    both = [cell for cell in strata.values() if cell[1] and cell[3]]
    closed, not_closed = sum(c[1] for c in both), sum(c[3] for c in both)
    found = mantel_haenszel_difference([(c[0], c[1], c[2], c[3]) for c in both])
    if min(closed, not_closed) < min_n:
        difference = Figure(suppressed=True, n=closed, n_previous=not_closed)
    elif found is None:
        difference = Figure(value=None, ci=None, n=closed, n_previous=not_closed)
    else:
        value, (low, high) = found
        verdict = "up" if low > 0 else "down" if high < 0 else "no detectable change"
        difference = Figure(
            value=round(100 * value, 1),
            ci=(round(100 * low, 2), round(100 * high, 2)),
            n=closed,
            n_previous=not_closed,
            verdict=verdict,
        )
    return LoopComparison(
        difference=difference,
        strata=len(both),
        compared=closed + not_closed,
        not_yet_due=not_yet_due,
    )


def _outcome(
    answer: _Answer,
    at_wave: Mapping[tuple[str, str], Any],
    now: Mapping[str, Any],
    waves: Sequence[str],
    position: Mapping[str, int],
) -> tuple[str, Any, str | None] | None:
    """Where the answer's outcome is told from, the value and the wave it was read at
    (None: now): the next wave's ledger snapshot when the customer was invited to it,
    else the source now, else unknown."""
    start = position.get(answer.wave)
    if start is not None and start + 1 < len(waves):
        key = (answer.contact_key, waves[start + 1])
        if key in at_wave:
            return "next_wave", at_wave[key], waves[start + 1]
    if answer.contact_key in now:
        return "source_now", now[answer.contact_key], None
    return None


def _next_score(
    answer: _Answer,
    later_scores: Mapping[tuple[str, str], int | None],
    waves: Sequence[str],
    position: Mapping[str, int],
) -> tuple[int, str] | None:
    start = position.get(answer.wave)
    if start is None:
        return None
    for wave in waves[start + 1 :]:
        score = later_scores.get((answer.contact_key, wave))
        if score is not None:
            return score, wave
    return None


def _same(value: Any, churned: Any) -> bool:
    if isinstance(churned, bool) or isinstance(value, bool):
        return bool(value) is bool(churned) and value is not None
    return str(value).strip().casefold() == str(churned).strip().casefold()
