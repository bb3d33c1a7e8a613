"""What a quota reads: a wave's confirmed answers per segment, and each segment's history.

The quota gate (`cxops.gates.quota`) asks `segment_answers` before each claim, so
answers that arrive while a round is being sent are counted before the next round
leaves; `plan` reads `segment_history` (earlier waves' invitations, answers and
scores) to say what a wave may expect. Answers count only when a person confirmed them
and they are not suspect, as everywhere (`cxops.store.responses.CONFIRMED`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, false, func, select

from cxops.store.db import Store
from cxops.store.ledger import MAYBE_SENT
from cxops.store.models import Response, Send
from cxops.store.responses import CONFIRMED

#: A segment's answers: main score -> count (None: answered, but not the main question).
Scores = Counter[int | None]


def _score_column(question_id: str, dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        extracted: ColumnElement[Any] = func.json_extract(Response.answers, f'$."{question_id}"')
        return extracted
    value: ColumnElement[Any] = Response.answers[question_id].as_string()
    return value


def _as_score(raw: Any) -> int | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    text = str(raw).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def segment_answers(
    store: Store, survey_id: str, wave_id: str, question_id: str | None
) -> dict[str, Scores]:
    """The wave's confirmed, not suspect answers by segment and main score (one GROUP BY)."""
    return _answers(store, survey_id, question_id, Response.wave_id == wave_id)


def _answers(
    store: Store, survey_id: str, question_id: str | None, *where: ColumnElement[bool]
) -> dict[str, Scores]:
    with store.connect() as conn:
        keys: list[Any] = [Response.segment]
        if question_id is not None:
            keys.append(_score_column(question_id, conn.dialect.name))
        rows = conn.execute(
            select(*keys, func.count())
            .where(
                Response.survey_id == survey_id,
                CONFIRMED,
                Response.suspect.is_(false()),
                *where,
            )
            .group_by(*keys)
        ).all()
    result: dict[str, Scores] = {}
    for row in rows:
        raw = row[1] if question_id is not None else None
        result.setdefault(row[0], Counter())[_as_score(raw)] += row[-1]
    return result


@dataclass(frozen=True)
class SegmentHistory:
    """A segment over a survey's earlier waves: invitations that may have reached people,
    confirmed answers, and their main scores."""

    invited: int = 0
    scores: Scores = field(default_factory=Counter)

    @property
    def answered(self) -> int:
        return sum(self.scores.values())


def segment_history(
    store: Store, survey_id: str, wave_id: str, question_id: str | None
) -> dict[str, SegmentHistory]:
    """Each segment's invitations and answers in the survey's waves other than `wave_id`."""
    with store.connect() as conn:
        invited = conn.execute(
            select(Send.segment, func.count())
            .where(
                Send.survey_id == survey_id,
                Send.wave_id != wave_id,
                Send.step == 0,
                Send.status.in_(MAYBE_SENT),
            )
            .group_by(Send.segment)
        ).all()
    answers = _answers(store, survey_id, question_id, Response.wave_id != wave_id)
    segments = {segment for segment, _ in invited} | set(answers)
    counts = dict(invited)
    return {
        segment: SegmentHistory(counts.get(segment, 0), answers.get(segment, Counter()))
        for segment in sorted(segments)
    }
