"""What `themes suggest` reads from the store (SQLite and PostgreSQL): text answers with
their locale, one wave or a calendar period, suspect answers left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from analysis_support import Row, seed

from cxops.analysis.answer_period import PeriodError, parse_period
from cxops.analysis.comment_texts import text_answers
from cxops.analysis.theme_suggest import TextAnswer
from cxops.spec.loader import read_survey
from cxops.spec.models import Survey
from cxops.store.db import Store

SURVEY = Path(__file__).parent / "data" / "themes" / "survey.yaml"


def survey() -> Survey:
    found = read_survey(SURVEY, SURVEY.parent, checks=False).survey
    assert found is not None
    return found


def rows() -> list[Row]:
    return [
        Row("w1", "all", "c1", {"score": 3, "reason": "Dark mode please"}, locale="en"),
        Row("w1", "all", "c2", {"score": 9}),  # no text
        Row("w1", "all", "c3", {"score": 8, "reason": "  "}),  # empty text
        Row("w1", "all", "c4", {"reason": "Bot"}, suspect_reason="honeypot"),
        Row("w2", "all", "c1", {"score": 2, "reason": "Dunkelmodus fehlt"}, locale="de-AT"),
        Row("w2", "all", "c5", {"score": 7, "reason": "Mode sombre svp"}, locale="fr"),
    ]


def test_text_answers_by_wave_and_period(store: Store, store_url: str) -> None:
    # Waves start 90 days apart from 1 August 2026: w1's answers in August, w2's in
    # late October (seed's times), in the survey's zone (UTC here).
    seed(store_url, "nps-labelled", ["w1", "w2"], rows())
    spec = survey()
    everything = text_answers(store, spec)
    assert [(a.locale, a.text) for a in everything] == [
        ("en", "Dark mode please"),
        ("de-AT", "Dunkelmodus fehlt"),
        ("fr", "Mode sombre svp"),
    ]
    assert all(isinstance(a, TextAnswer) for a in everything)
    w2 = text_answers(store, spec, parse_period("w2", spec.timezone))
    assert [a.text for a in w2] == ["Dunkelmodus fehlt", "Mode sombre svp"]
    assert text_answers(store, spec, parse_period("2026-Q4", spec.timezone)) == w2
    assert text_answers(store, spec, parse_period("2026-08", spec.timezone)) == everything[:1]
    assert text_answers(store, spec, parse_period("2026-W49", spec.timezone)) == []
    with pytest.raises(PeriodError, match=r"no wave 'w9' \(latest waves: w1, w2"):
        text_answers(store, spec, parse_period("w9", spec.timezone))


def test_no_store_yet_has_no_answers_and_no_waves() -> None:
    assert text_answers(None, survey()) == []
    with pytest.raises(PeriodError, match="latest waves: none yet"):
        text_answers(None, survey(), parse_period("w1", "UTC"))
