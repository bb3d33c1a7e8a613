"""What `cxops themes suggest` reads: a survey's text answers with their locale, in one
period or all. Counted like the report's comments: confirmed answers, not suspect,
non-empty texts, in id order. A calendar period holds the answers of the waves the
report puts in it (`cxops.analysis.periods`: a wave is in the period of its first
invitation), so `themes suggest --period 2026-11` reads what `report --by month` shows
for 2026-11."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select

from cxops.analysis.answer_period import Period, PeriodError
from cxops.analysis.data import answer_value, first_sends, wave_starts
from cxops.analysis.periods import group_waves
from cxops.analysis.theme_suggest import TextAnswer
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.models import Response

_responses = Response.__table__


def text_answers(
    store: Store | None, survey: Survey, period: Period | None = None
) -> list[TextAnswer]:
    """Every non-empty text answer of `survey` (of `period`: a wave, or the waves the
    report groups into that week, month or quarter), with the answer's locale; none without a store yet. An
    unknown wave is refused, naming the latest ones."""
    if store is None:
        if period is not None and period.kind == "wave":
            raise _no_wave(survey, period, [])
        return []
    questions = [q.id for q in survey.questions if q.type == "text"]
    with store.connect() as conn:
        r = _responses.c
        where: list[ColumnElement[bool]] = [
            r.survey_id == survey.id,
            r.confirmed_at.is_not(None),
            r.suspect.is_(false()),
        ]
        if period is not None:
            started = wave_starts(conn, survey.id)
            waves = list(started)
            if period.kind == "wave":
                if period.text not in waves:
                    raise _no_wave(survey, period, waves)
                where.append(r.wave_id == period.text)
            else:
                sent = first_sends(conn, survey.id)
                grouped = group_waves(waves, sent, started, period.kind, survey.timezone)
                where.append(r.wave_id.in_(grouped.waves.get(period.text, ())))
        if not questions:
            return []
        texts = [answer_value(qid, conn.dialect.name) for qid in questions]
        query = (
            select(r.id, r.locale, *texts)
            .where(*where, or_(*(text.is_not(None) for text in texts)))
            .order_by(r.id)
        )
        found: list[TextAnswer] = []
        for row in conn.execute(query):
            for body in row[2:]:
                text = str(body).strip() if body is not None else ""
                if text:
                    found.append(TextAnswer(row[0], row[1] or "", text))
        return found


def _no_wave(survey: Survey, period: Period, waves: list[str]) -> PeriodError:
    known = ", ".join(waves[-5:]) or "none yet"
    return PeriodError(
        f"survey {survey.id}: no wave {period.text!r} (latest waves: {known}; "
        "or a period: 2026-W49, 2026-11, 2026-Q4)"
    )
