"""Closing the loop, like for like: only tasks due before their outcome was read, the
Mantel-Haenszel risk difference by segment and score category, worded as an association."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from analysis_support import CSAT_SURVEY

from cxops.analysis.data import LoopCase
from cxops.analysis.loop import loop_section
from cxops.intervals import mantel_haenszel_difference, z_quantile

W1, W2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)


def case(key: str, wave: str, closed: bool, due: datetime, segment: str = "a") -> LoopCase:
    status, outcome = ("done", "resolved") if closed else ("open", None)
    return LoopCase(status, outcome, wave, key, 2, segment, due)


def test_tasks_not_yet_due_when_the_outcome_was_read_are_left_out() -> None:
    """34 of 82 "not closed" answers were W2 answers whose tasks were created minutes
    earlier, not yet due, with churn read from the source as it is now."""
    cases = [case(f"c{i}", "w1", i % 2 == 0, W1 + timedelta(days=2)) for i in range(10)]
    cases += [case(f"d{i}", "w2", False, NOW + timedelta(days=1)) for i in range(6)]
    outcomes = {f"c{i}": "churned" if i % 2 else "active" for i in range(10)}
    outcomes |= {f"d{i}": "active" for i in range(6)}
    loop = loop_section(
        "nps",
        cases,
        {},
        ["w1", "w2"],
        outcomes=outcomes,
        churned_value="churned",
        min_n=2,
        wave_times={"w1": W1, "w2": W2},
        now=NOW,
    )
    assert loop.churn is not None
    assert loop.churn.not_yet_due == 6 and loop.churn.compared == 10
    assert loop.not_closed.churned is not None and loop.not_closed.churned.n == 5
    assert loop.not_closed.churned.value == 100.0  # not diluted by six answers not yet due
    assert "association" in loop.method and "Mantel-Haenszel" in loop.method


def test_the_difference_is_stratified_by_segment() -> None:
    """Segment a: mostly closed, churns a lot; segment b: mostly not closed, churns little.
    Within each segment closing makes no difference; pooled, it seems to hurt."""
    due = W1 + timedelta(days=1)
    cases, outcomes = [], {}
    for segment, closed_n, open_n, rate in (("a", 16, 4, 0.5), ("b", 4, 16, 0.0)):
        for i in range(closed_n + open_n):
            key = f"{segment}{i}"
            closed = i < closed_n
            cases.append(case(key, "w1", closed, due, segment))
            arm_index = i if closed else i - closed_n
            arm_size = closed_n if closed else open_n
            outcomes[key] = "churned" if arm_index < rate * arm_size else "active"
    loop = loop_section(
        "nps",
        cases,
        {},
        ["w1"],
        outcomes=outcomes,
        churned_value="churned",
        min_n=2,
        wave_times={"w1": W1},
        now=NOW,
    )
    assert loop.closed.churned is not None and loop.not_closed.churned is not None
    crude = (loop.closed.churned.value or 0) - (loop.not_closed.churned.value or 0)
    assert crude == pytest.approx(30.0)  # 8/20 - 2/20
    assert loop.churn is not None and loop.churn.strata == 2
    assert loop.churn.difference.value == 0.0
    assert loop.churn.difference.verdict == "no detectable change"


def test_mantel_haenszel_with_one_stratum_is_the_wald_difference() -> None:
    value, (low, high) = mantel_haenszel_difference([(12, 40, 5, 30)]) or (0, (0, 0))
    p1, p0 = 12 / 40, 5 / 30
    se = math.sqrt(p1 * (1 - p1) / 40 + p0 * (1 - p0) / 30)
    assert value == pytest.approx(p1 - p0)
    assert (low, high) == pytest.approx((p1 - p0 - z_quantile() * se, p1 - p0 + z_quantile() * se))
    assert mantel_haenszel_difference([(1, 3, 0, 0)]) is None
    # Two strata: the weights n1·n0/N (Greenland & Robins 1985's point estimate).
    found = mantel_haenszel_difference([(2, 4, 1, 4), (6, 10, 1, 5)])
    w1, w2 = 4 * 4 / 8, 10 * 5 / 15
    expected = (w1 * (2 / 4 - 1 / 4) + w2 * (6 / 10 - 1 / 5)) / (w1 + w2)
    assert found is not None and found[0] == pytest.approx(expected)


def test_no_loop_table_for_a_survey_without_follow_up_rules(tmp_path: Path) -> None:
    """A loop table about detractors appeared for a CSAT survey with no follow-up rules."""
    from cxops.analysis.data import SurveyData
    from cxops.analysis.report import build_report
    from cxops.spec import find_survey

    path = tmp_path / "csat.yaml"
    path.write_text(CSAT, encoding="utf-8")
    survey = find_survey(path, tmp_path, tmp_path, checks=False)
    data = SurveyData(waves=["w1"], loop=[case("c1", "w1", True, W1)])
    provenance = dict.fromkeys(("survey_file", "commit", "dirty"), None) | {
        "inputs_sha256": "0",
        "cxops_version": "0",
        "generated_at": "t",
    }
    report = build_report(survey, data, wave=None, min_n=1, outcomes=None, provenance=provenance)
    assert report.loop is None
    with_rules = find_survey(_with_rules(tmp_path), tmp_path, tmp_path, checks=False)
    kept = build_report(with_rules, data, wave=None, min_n=1, outcomes=None, provenance=provenance)
    assert kept.loop is not None


CSAT = CSAT_SURVEY.replace("id: csat-test", "id: csat")


def _with_rules(folder: Path) -> Path:
    path = folder / "csat-rules.yaml"
    rules = (
        "followup:\n  - id: unhappy\n    when: 'answers.score <= 2'\n"
        "    task: Call back\n    assign_to: csm@example.com\n    due: 1d\n"
    )
    path.write_text(CSAT.replace("id: csat\n", "id: csat-rules\n") + rules, encoding="utf-8")
    return path
