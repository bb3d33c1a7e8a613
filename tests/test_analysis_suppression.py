"""Complementary suppression: no combination of the figures one report shows (JSON and
HTML) gives back a suppressed group's answers."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from analysis_support import CSAT_SURVEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxops.analysis.data import SurveyData
from cxops.analysis.html import PROTECTS, render_html
from cxops.analysis.report import build_report
from cxops.spec import find_survey
from cxops.spec.models import Survey

SURVEY = CSAT_SURVEY
PROVENANCE = {
    "survey_file": None,
    "commit": None,
    "dirty": None,
    "inputs_sha256": "0" * 64,
    "cxops_version": "0",
    "generated_at": "t",
}
T0 = datetime(2026, 8, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Survey:
    folder = tmp_path_factory.mktemp("suppression")
    (folder / "csat-test.yaml").write_text(SURVEY, encoding="utf-8")
    return find_survey(folder / "csat-test.yaml", folder, folder, checks=False)


Tallies = dict[tuple[str, str], Counter[int]]


def survey_data(tallies: Tallies) -> SurveyData:
    waves = sorted({wave for wave, _ in tallies})
    data = SurveyData(
        waves=waves,
        started={w: T0 + timedelta(days=30 * i) for i, w in enumerate(waves)},
        first_sent={w: T0 + timedelta(days=30 * i) for i, w in enumerate(waves)},
    )
    data.tallies["score"] = {}
    data.answered["score"] = Counter()
    for cell, tally in tallies.items():
        n = sum(tally.values())
        data.invited[cell] = n + 3
        data.statuses[(*cell, "complete")] = n
        data.tallies["score"][cell] = Counter(tally)
        data.answered["score"][cell] = n
    return data


tally = st.dictionaries(st.integers(1, 5), st.integers(0, 4), max_size=5).map(Counter)
cells = st.dictionaries(
    st.tuples(st.sampled_from(["w1", "w2", "w3"]), st.sampled_from(["a", "b", "c", "d"])),
    tally,
    min_size=1,
    max_size=12,
)


def hidden_parts(parts: dict[str, Any]) -> list[str]:
    return [
        name
        for name, part in parts.items()
        if part.get("suppressed")
        or part["questions"]["score"]["metrics"]["satisfied"].get("suppressed")
    ]


def true_tally(tallies: Tallies, keep: Any) -> Counter[int]:
    total: Counter[int] = Counter()
    for cell, counts in tallies.items():
        if keep(cell):
            total.update(counts)
    return +total


def check_partition(
    document: dict[str, Any], name: str, tallies: Tallies, keep_of: Any, min_n: int
) -> None:
    overall = document["overall"]
    if overall.get("suppressed"):
        return
    parts = document[name]
    hidden = hidden_parts(parts)
    with_answers = [p for p in hidden if sum(true_tally(tallies, keep_of(p)).values()) > 0]
    assert len(with_answers) != 1, (name, hidden)
    if with_answers:
        held = sum(sum(true_tally(tallies, keep_of(p)).values()) for p in with_answers)
        assert held >= min_n
    # Subtraction: the overall distribution minus the shown parts' is no hidden part's.
    dist = overall["questions"]["score"]["distribution"]
    if name == "by_segment" and not dist.get("suppressed"):
        left = Counter({int(k): v for k, v in dist["counts"].items()})
        for part, figures in parts.items():
            if part not in hidden:
                shown = figures["questions"]["score"]["distribution"]["counts"]
                left.subtract({int(k): v for k, v in shown.items()})
        for part in with_answers:
            assert +left != true_tally(tallies, keep_of(part))


def table_rows(html: str, names: list[str]) -> dict[str, str]:
    found = {}
    for name in names:
        match = re.search(rf'<tr><th scope="row">{re.escape(name)}</th>(.*?)</tr>', html, re.S)
        if match:
            found[name] = match[1]
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tallies=cells, min_n=st.integers(2, 6))
def test_no_shown_combination_recovers_a_suppressed_group(
    survey: Survey, tallies: Tallies, min_n: int
) -> None:
    data = survey_data(tallies)
    report = build_report(
        survey, data, wave=None, min_n=min_n, outcomes=None, provenance=PROVENANCE
    )
    document = report.document()

    check_partition(document, "by_segment", tallies, lambda s: lambda c: c[1] == s, min_n)
    check_partition(document, "by_period", tallies, lambda w: lambda c: c[0] == w, min_n)
    for change in document["changes"]:
        for side in (change["from"], change["to"]):
            if side in hidden_parts(document["by_period"]):
                assert change["questions"]["score"]["satisfied"].get("suppressed")
    headline = document.get("headline")
    if headline and headline["period"] in hidden_parts(document["by_period"]):
        group = headline["group"]
        assert group.get("suppressed") or group["questions"]["score"]["complementary"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tallies=cells, min_n=st.integers(2, 6))
def test_the_html_shows_no_figure_of_a_hidden_group(
    survey: Survey, tallies: Tallies, min_n: int
) -> None:
    report = build_report(
        survey, survey_data(tallies), wave=None, min_n=min_n, outcomes=None, provenance=PROVENANCE
    )
    document = report.document()
    if document["overall"].get("suppressed"):
        return  # no figure of any group is shown
    with patch("cxops.analysis.html.charts_for", return_value={}):  # the charts: below
        html = render_html(report)

    hidden = hidden_parts(document["by_segment"])
    for name, row in table_rows(html, hidden).items():
        last = row.rsplit("<td", 1)[1]
        assert "too few answers" in last or PROTECTS in last, name
    for period in hidden_parts(document["by_period"]):
        label = document["period_labels"][period].replace("wave ", "", 1)
        for row in table_rows(html, [label]).values():
            metric = row.split("<td")[4]
            assert "too few answers" in metric or PROTECTS in metric, period


def test_the_suppressed_segment_is_not_the_overall_minus_the_others(survey: Survey) -> None:
    """The reproduction: overall CSAT minus the shown segments gave {1: 2, 5: 2}, the
    suppressed `partner` segment (n = 4) exactly."""
    tallies: Tallies = {
        ("w1", "enterprise"): Counter({5: 6, 4: 3, 2: 1}),
        ("w1", "smb"): Counter({4: 5, 3: 2, 1: 1}),
        ("w1", "partner"): Counter({1: 2, 5: 2}),
    }
    report = build_report(
        survey, survey_data(tallies), wave=None, min_n=5, outcomes=None, provenance=PROVENANCE
    )
    segments = report.by_segment
    assert segments["partner"].suppressed and not segments["partner"].complementary
    # smb (8) is the smallest shown segment: hidden with it, 12 answers together
    assert segments["smb"].suppressed and segments["smb"].complementary
    assert not segments["enterprise"].suppressed
    check_partition(report.document(), "by_segment", tallies, lambda s: lambda c: c[1] == s, 5)
    assert PROTECTS in table_rows(render_html(report), ["smb"])["smb"]
