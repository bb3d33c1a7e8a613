"""The category of a score: what `category` means in expressions, and in measures.

- nps (0-10): 0-6 detractor, 7-8 passive, 9-10 promoter
- csat (1-5): 1-2 dissatisfied, 3 neutral, 4-5 satisfied
- ces (1-7): 1-3 dissatisfied, 4 neutral, 5-7 satisfied (easy)

Pure: no I/O, no cxops imports, so analysis can reuse it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Category = Literal["promoter", "passive", "detractor", "satisfied", "neutral", "dissatisfied"]

#: The categories that call for a rescue (the "detractor" side of each kind).
NEGATIVE: frozenset[str] = frozenset({"detractor", "dissatisfied"})
#: The categories a rescued customer moves to.
NOT_NEGATIVE: frozenset[str] = frozenset({"promoter", "passive", "satisfied", "neutral"})

_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def score_category(kind: str, score: Any) -> Category | None:
    """The category of `score` on a `kind` scale; None when the kind has none or the score is off-scale."""
    value = _as_int(score)
    if value is None or kind not in _RANGES:
        return None
    low, high = _RANGES[kind]
    if not low <= value <= high:
        return None
    if kind == "nps":
        return "detractor" if value <= 6 else "passive" if value <= 8 else "promoter"
    if kind == "csat":
        return "dissatisfied" if value <= 2 else "neutral" if value == 3 else "satisfied"
    return "dissatisfied" if value <= 3 else "neutral" if value == 4 else "satisfied"


def response_category(
    kind: str, main_question_id: str | None, answers: Mapping[str, Any]
) -> Category | None:
    """The category of a response: that of its answer to the survey's main question."""
    if main_question_id is None:
        return None
    return score_category(kind, answers.get(main_question_id))


def is_negative(category: str | None) -> bool:
    return category in NEGATIVE


def _as_int(score: Any) -> int | None:
    if isinstance(score, bool) or score is None:
        return None
    if isinstance(score, int):
        return score
    if isinstance(score, float) and score.is_integer():
        return int(score)
    if isinstance(score, str) and score.strip().lstrip("-").isdigit():
        return int(score.strip())
    return None
