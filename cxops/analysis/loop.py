"""Does closing the loop pay? Detractors whose task was closed `contacted`/`resolved`
against detractors whose task was not.

For each answer in a negative category (NPS detractor; CSAT/CES dissatisfied) that
has a follow-up task (withdrawn tasks do not count):
- **closed**: one of its tasks is done with outcome `contacted` or `resolved`;
- **churned by the next wave**: the survey's outcome column (`report.outcome`) equals
  the churned value as the ledger kept it when the customer was invited to the survey's
  next wave; when there is no next wave yet, or the customer was not invited to it
  (churned customers are usually filtered out), as the source says now. How many
  were told each way is in `outcome_from`. Customers found in neither are counted
  as unknown, not as churned;
- **rescued**: the customer's next answer (in a later wave) is no longer negative;
  only those who answered again count.
Each share carries its Wilson interval; the difference (closed - not closed) its
Newcombe interval and a verdict. Pure: the outcome values are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cxops.analysis.change import share_change
from cxops.analysis.data import LoopCase
from cxops.analysis.metrics import share
from cxops.analysis.report_model import Loop, LoopGroup, LoopOutcome, OutcomeSource
from cxops.followup.category import NOT_NEGATIVE, is_negative, score_category

CLOSING_OUTCOMES = frozenset({"contacted", "resolved"})


@dataclass(frozen=True, slots=True)
class _Answer:
    contact_key: str
    wave: str
    closed: bool


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
) -> Loop:
    """The closing-the-loop figures (`outcome`: the survey's outcome column, shown as is);
    `outcomes`: contact key -> outcome column value now
    (None when the survey names no outcome column); `wave_outcomes`: (contact key, wave)
    -> the outcome column in that wave's ledger snapshot."""
    at_wave = wave_outcomes or {}
    answers: dict[tuple[str, str], _Answer] = {}
    for case in cases:
        if not is_negative(score_category(kind, case.score)):
            continue
        key = (case.contact_key, case.wave)
        closed = case.task_status == "done" and (case.outcome or "") in CLOSING_OUTCOMES
        known = answers.get(key)
        answers[key] = _Answer(case.contact_key, case.wave, closed or bool(known and known.closed))
    position = {wave: index for index, wave in enumerate(waves)}
    groups: dict[str, dict[str, int]] = {
        name: {
            "n": 0,
            "churned": 0,
            "known": 0,
            "rescued": 0,
            "answered_again": 0,
            "next_wave": 0,
            "source_now": 0,
        }
        for name in ("closed", "not_closed")
    }
    for answer in answers.values():
        tally = groups["closed" if answer.closed else "not_closed"]
        tally["n"] += 1
        if outcomes is not None:
            told = _outcome(answer, at_wave, outcomes, waves, position)
            if told is not None:
                source, value = told
                tally["known"] += 1
                tally[source] += 1
                tally["churned"] += _same(value, churned_value)
        following = _next_score(answer, later_scores, waves, position)
        if following is not None:
            tally["answered_again"] += 1
            tally["rescued"] += score_category(kind, following) in NOT_NEGATIVE
    sections: dict[str, LoopGroup] = {}
    for name, counts in groups.items():
        rescued = share(counts["rescued"], counts["answered_again"]).figure(min_n)
        sections[name] = (
            LoopGroup(n=counts["n"], rescued=rescued)
            if outcomes is None
            else LoopGroup(
                n=counts["n"],
                churned=share(counts["churned"], counts["known"]).figure(min_n),
                outcome_unknown=counts["n"] - counts["known"],
                outcome_from=OutcomeSource(
                    next_wave=counts["next_wave"], source_now=counts["source_now"]
                ),
                rescued=rescued,
            )
        )
    done, other = groups["closed"], groups["not_closed"]
    rescue_difference = share_change(
        other["rescued"], other["answered_again"], done["rescued"], done["answered_again"]
    ).figure(min_n)
    rescue_rate = share(
        done["rescued"] + other["rescued"], done["answered_again"] + other["answered_again"]
    ).figure(min_n)
    if outcomes is None:
        return Loop(
            outcome=outcome,
            negative_answers_with_tasks=len(answers),
            closed=sections["closed"],
            not_closed=sections["not_closed"],
            rescue_difference=rescue_difference,
            rescue_rate=rescue_rate,
        )
    return Loop(
        outcome=outcome,
        negative_answers_with_tasks=len(answers),
        closed=sections["closed"],
        not_closed=sections["not_closed"],
        churn_difference=share_change(
            other["churned"], other["known"], done["churned"], done["known"]
        ).figure(min_n),
        rescue_difference=rescue_difference,
        rescue_rate=rescue_rate,
    )


def _outcome(
    answer: _Answer,
    at_wave: Mapping[tuple[str, str], Any],
    now: Mapping[str, Any],
    waves: Sequence[str],
    position: Mapping[str, int],
) -> tuple[str, Any] | None:
    """Where the answer's outcome is told from, and the value: the next wave's ledger
    snapshot when the customer was invited to it, else the source now, else unknown."""
    start = position.get(answer.wave)
    if start is not None and start + 1 < len(waves):
        key = (answer.contact_key, waves[start + 1])
        if key in at_wave:
            return "next_wave", at_wave[key]
    if answer.contact_key in now:
        return "source_now", now[answer.contact_key]
    return None


def _next_score(
    answer: _Answer,
    later_scores: Mapping[tuple[str, str], int | None],
    waves: Sequence[str],
    position: Mapping[str, int],
) -> int | None:
    start = position.get(answer.wave)
    if start is None:
        return None
    for wave in waves[start + 1 :]:
        score = later_scores.get((answer.contact_key, wave))
        if score is not None:
            return score
    return None


def _same(value: Any, churned: Any) -> bool:
    if isinstance(churned, bool) or isinstance(value, bool):
        return bool(value) is bool(churned) and value is not None
    return str(value).strip().casefold() == str(churned).strip().casefold()
