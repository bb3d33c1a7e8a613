"""Does closing the loop pay? Detractors whose task was closed `contacted`/`resolved`
against detractors whose task was not.

For each answer in a negative category (NPS detractor; CSAT/CES dissatisfied) that
has a follow-up task (withdrawn tasks do not count):
- **closed**: one of its tasks is done with outcome `contacted` or `resolved`;
- **churned**: the survey's outcome column (`report.outcome`) of that customer in the
  source as it is now equals the churned value (customers no longer in the source
  are counted as unknown, not as churned);
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
    churned_value: Any,
    min_n: int,
) -> dict[str, Any]:
    """The closing-the-loop figures; `outcomes`: contact key -> outcome column value now
    (None when the survey names no outcome column)."""
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
        name: {"n": 0, "churned": 0, "known": 0, "rescued": 0, "answered_again": 0}
        for name in ("closed", "not_closed")
    }
    for answer in answers.values():
        tally = groups["closed" if answer.closed else "not_closed"]
        tally["n"] += 1
        if outcomes is not None and answer.contact_key in outcomes:
            tally["known"] += 1
            tally["churned"] += _same(outcomes[answer.contact_key], churned_value)
        following = _next_score(answer, later_scores, waves, position)
        if following is not None:
            tally["answered_again"] += 1
            tally["rescued"] += score_category(kind, following) in NOT_NEGATIVE
    result: dict[str, Any] = {"negative_answers_with_tasks": len(answers)}
    for name, counts in groups.items():
        entry: dict[str, Any] = {"n": counts["n"]}
        if outcomes is not None:
            entry["churned"] = share(counts["churned"], counts["known"]).as_dict(min_n)
            entry["outcome_unknown"] = counts["n"] - counts["known"]
        entry["rescued"] = share(counts["rescued"], counts["answered_again"]).as_dict(min_n)
        result[name] = entry
    done, other = groups["closed"], groups["not_closed"]
    if outcomes is not None:
        result["churn_difference"] = share_change(
            other["churned"], other["known"], done["churned"], done["known"]
        ).as_dict(min_n)
    result["rescue_difference"] = share_change(
        other["rescued"], other["answered_again"], done["rescued"], done["answered_again"]
    ).as_dict(min_n)
    rescued = done["rescued"] + other["rescued"]
    again = done["answered_again"] + other["answered_again"]
    result["rescue_rate"] = share(rescued, again).as_dict(min_n)
    return result


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
