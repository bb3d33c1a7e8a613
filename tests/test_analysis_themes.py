"""Theme tagging, quotes, provenance and chart determinism (pure parts of the report)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from cxops.analysis.data import Comment
from cxops.analysis.provenance import git_state, provenance
from cxops.analysis.report_model import Figure
from cxops.analysis.themes import compile_themes, redact, themes_section

THEMES = {
    "pricing": ["price", "Preis", "too expensive"],
    "onboarding": ["set up", "docs"],
    "support": ["ÜBERSETZUNG", "help desk"],
    "cjk": ["価格"],
}


@pytest.mark.parametrize(
    ("text", "themes"),
    [
        ("The PRICE is high", ["pricing"]),
        ("prices rising", []),  # whole words only
        ("Set   up was\nhard", ["onboarding"]),  # a phrase across any whitespace
        ("setups everywhere", []),
        ("Die Übersetzung fehlt", ["support"]),  # Unicode case folding
        ("Preisgestaltung", []),  # German compound: not the word Preis
        ("Preis zu hoch", ["pricing"]),
        ("高い価格です", ["cjk"]),  # no spaces between words: matched anywhere
        ("price, docs and help desk", ["pricing", "onboarding", "support"]),
        ("Way too expensive!", ["pricing"]),
        ("price price price", ["pricing"]),  # once per answer
        ("x_price", []),  # an underscore is part of a word
    ],
)
def test_keywords_match_whole_words_in_any_language(text: str, themes: list[str]) -> None:
    assert compile_themes(THEMES).themes_of(text) == themes


def test_quotes_carry_no_address_and_are_cut() -> None:
    assert redact("write to jane.doe+x@corp.example now") == "write to [email] now"
    assert len(redact("a" * 1000)) == 400


SURVEY = SimpleNamespace(
    themes={"pricing": ["price"]},
    main_question=SimpleNamespace(type="nps"),
    report=SimpleNamespace(revenue="mrr"),
)


def test_an_answer_with_two_texts_counts_once_and_quotes_the_text_that_mentions_it() -> None:
    comments = [
        Comment(1, "w", "s", "k1", "reason", "The price", 2, 100.0),
        Comment(1, "w", "s", "k1", "other", "Again the price", 2, 100.0),
        Comment(2, "w", "s", "k2", "reason", "Nice", 10, 50.0),
        Comment(3, "w", "s", "k3", "reason", "fair price", 10, None),
    ]
    section = themes_section(SURVEY, comments, min_n=1).model_dump(exclude_unset=True)
    pricing = section["themes"]["pricing"]
    assert section["answers"] == 3
    assert pricing["count"] == 2 and pricing["negative"] == 1
    assert pricing["revenue_at_stake"] == {"value": 100.0, "n": 1, "missing": 0}
    assert pricing["quotes"] == ["The price", "fair price"]  # detractor first, then latest
    assert section["untagged"] == ["Nice"]


def test_git_state_names_the_commit_and_uncommitted_changes(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com"]
    survey = tmp_path / "s.yaml"
    assert git_state(survey) == {"commit": None, "dirty": None}
    survey.write_text("id: a\n")
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    assert git_state(survey)["dirty"] is True  # not committed yet
    subprocess.run([*git, "add", "s.yaml"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "s"], cwd=tmp_path, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_state(survey) == {"commit": head, "dirty": False}
    survey.write_text("id: b\n")
    assert git_state(survey) == {"commit": head, "dirty": True}
    facts = provenance(survey, tmp_path, "inputs", datetime(2026, 1, 1, tzinfo=UTC))
    assert facts["survey_file"] == "s.yaml" and facts["generated_at"] == "2026-01-01T00:00:00+00:00"
    assert (
        facts["inputs_sha256"]
        == provenance(survey, tmp_path, "inputs", datetime.now(UTC))["inputs_sha256"]
    )


def test_charts_are_the_same_bytes_every_time_and_carry_no_date() -> None:
    from cxops.analysis.charts import distribution_chart, interval_chart

    counts = {str(score): score * 2 for score in range(11)}
    first = distribution_chart("nps", counts, "Answers by score")
    assert first == distribution_chart("nps", counts, "Answers by score")
    assert first.startswith("<svg ") and "<dc:date>" not in first and "<?xml" not in first
    rows = [("a", Figure(value=10.0, ci=(1.0, 20.0), n=9)), ("b", Figure(suppressed=True, n=2))]
    chart = interval_chart(rows, "NPS by segment", "pts", horizontal=True)
    assert "too few answers" in chart and chart == interval_chart(
        rows, "NPS by segment", "pts", horizontal=True
    )


def test_themes_obey_the_minimum_in_every_figure_count_and_quote() -> None:
    """A 2-answer wave (overall "too few answers") showed "pricing 100.0% [34.2%, 100.0%]
    n = 2" with both quotes, and `"negative": 2` told that both were detractors."""
    comments = [
        Comment(1, "w", "s", "k1", "reason", "The price hurts", 2, 100.0),
        Comment(2, "w", "s", "k2", "reason", "price again", 3, 50.0),
    ]
    section = themes_section(SURVEY, comments, min_n=5).model_dump(exclude_unset=True)
    assert section["themes"]["pricing"] == {
        "suppressed": True,
        "count": 2,
        "share": {"suppressed": True, "n": 2},
    }
    assert section["untagged"] == []
    # With enough comments in all, a theme of two is still too few.
    many = comments + [
        Comment(i, "w", "s", f"k{i}", "reason", f"fine {i}", 9, None) for i in range(3, 8)
    ]
    small = themes_section(SURVEY, many, min_n=5).themes["pricing"]
    assert small.suppressed and small.quotes == [] and small.negative is None


def test_revenue_at_stake_counts_a_customer_once_with_their_latest_answer() -> None:
    """Pricing showed 50,002 "from 18 detractors" where 16 customers hold 38,962 MRR:
    customers who complained in two waves counted twice."""
    comments = [
        Comment(1, "w1", "s", "k1", "reason", "Price hike hurt us", 2, 100.0),
        Comment(2, "w1", "s", "k2", "reason", "Too much price", 1, 40.0),
        Comment(3, "w2", "s", "k1", "reason", "Price hike hurt us", 3, 120.0),
        Comment(4, "w2", "s", "k2", "reason", "price is fine now", 10, 40.0),
        Comment(5, "w2", "s", "k3", "reason", "the price", 0, 10.0),
    ]
    theme = themes_section(SURVEY, comments, min_n=1).themes["pricing"]
    assert theme.revenue_at_stake is not None
    # k1 once, at their latest MRR (120); k2's latest answer is a promoter's; k3.
    assert (theme.revenue_at_stake.value, theme.revenue_at_stake.n) == (130.0, 2)
    # The same words once among the quotes.
    assert theme.quotes == ["the price", "Price hike hurt us", "Too much price"]


def test_an_empty_themes_chart_has_an_axis_from_zero() -> None:
    """An empty themes chart had a −0.04…0.04 axis."""
    from cxops.analysis.charts import themes_chart
    from cxops.analysis.report_model import Theme

    empty = {"pricing": Theme(count=0, share=Figure(value=None, ci=None, n=0), quotes=[])}
    chart = themes_chart(empty, "Themes by answers", by_revenue=False)
    assert "0.04" not in chart and "−0.02" not in chart
