"""The invitation experiment's figures on a hand-built store, against the formulas
computed here independently (statsmodels is not a dependency: Wilson, Newcombe's
method 10, the adjusted-Wald NPS difference and the sample-size formulas are written
out below from their papers)."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
from analysis_support import Row, seed

from cxops.analysis.experiment import (
    NO_DIFFERENCE,
    experiment_section,
    nps_comparison_n,
    two_proportions_n,
)
from cxops.analysis.experiment_data import load_experiment_data
from cxops.spec.models import Survey
from cxops.store.db import open_store

Z = NormalDist().inv_cdf(0.975)
Z_POWER = NormalDist().inv_cdf(0.8)


def survey(**invitation: object) -> Survey:
    return Survey.model_validate(
        {
            "id": "exp",
            "name": "Experiment",
            "kind": "nps",
            "audience": {"source": {"csv": "data/c.csv", "key": "id"}},
            "questions": [{"id": "score", "type": "nps", "text": "How likely?"}],
            "invitation": {
                "template": "nps_invite",
                "from": "r@acme.example",
                "variants": [{"id": "a", "subject": "A"}, {"id": "b", "subject": "B"}],
                **invitation,
            },
        }
    )


def people(variant: str, wave: str, invited: int, answers: list[tuple[int, str]]) -> list[Row]:
    """`invited` invitations of `variant`, the first ones answered (score, status)."""
    rows = []
    for index in range(invited):
        answer = answers[index] if index < len(answers) else None
        rows.append(
            Row(
                wave,
                "smb" if index % 3 else "enterprise",
                f"{variant}{wave}{index}",
                None if answer is None else {"score": answer[0]},
                status="complete" if answer is None else answer[1],
                variant=variant,
            )
        )
    return rows


A_ANSWERS = [(10, "complete")] * 25 + [(8, "complete")] * 10 + [(3, "complete")] * 15
A_ANSWERS += [(9, "partial")] * 10
B_ANSWERS = [(9, "complete")] * 40 + [(7, "complete")] * 20 + [(5, "complete")] * 12
B_ANSWERS += [(2, "partial")] * 6


@pytest.fixture
def experiment(tmp_path: object, store_url: str) -> object:
    rows = people("a", "w1", 200, A_ANSWERS) + people("b", "w1", 180, B_ANSWERS)
    # Before the experiment: no variant, not in it; a suspect answer in b: left out.
    rows += [Row("w0", "smb", "old", {"score": 0})]
    rows += [Row("w1", "smb", "bot", {"score": 0}, suspect_reason="seconds", variant="b")]
    seed(store_url, "exp", ["w0", "w1"], rows)
    store = open_store(store_url)
    try:
        return load_experiment_data(store, survey())
    finally:
        store.dispose()


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def newcombe(k1: int, n1: int, k0: int, n0: int) -> tuple[float, float]:
    p1, p0 = k1 / n1, k0 / n0
    (l1, u1), (l0, u0) = wilson(k1, n1), wilson(k0, n0)
    d = p1 - p0
    return d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)


def adjusted(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    pp, pd = (promoters + 0.75) / (n + 3), (detractors + 0.75) / (n + 3)
    return pp - pd, (pp + pd - (pp - pd) ** 2) / (n + 3)


def test_each_variant_and_its_difference_to_the_first(experiment: object) -> None:
    section = experiment_section(survey(), experiment, ["w0", "w1"], min_n=0)  # type: ignore[arg-type]
    assert section is not None
    assert section.split == {"a": 50.0, "b": 50.0}
    assert [h.model_dump() for h in section.history] == [
        {"wave": "w1", "invited": {"a": 200, "b": 181}}
    ]
    a, b = section.variants["a"], section.variants["b"]
    # The suspect answer is left out; its invitation went out.
    assert (a.invited, a.answers, b.invited, b.answers) == (200, 60, 181, 78)
    assert a.response_rate.value == pytest.approx(25.0)
    low, high = wilson(50, 200)
    assert a.response_rate.ci == (round(100 * low, 2), round(100 * high, 2))
    assert a.completion_rate.value == pytest.approx(round(100 * 50 / 60, 1))
    # NPS of a: 35 promoters (25 + 10 partial nines), 15 detractors of 60.
    assert a.metrics["nps"].value == pytest.approx(round(100 * (35 - 15) / 60, 1))
    assert a.difference is None and b.difference is not None
    difference = b.difference
    assert difference.to == "a"
    low, high = newcombe(72, 181, 50, 200)
    rate = difference.response_rate
    assert rate.value == pytest.approx(round(100 * (72 / 181 - 50 / 200), 1))
    assert rate.ci == (round(100 * low, 2), round(100 * high, 2))
    assert rate.verdict == ("higher" if low > 0 else NO_DIFFERENCE)
    # NPS of b: 40 promoters, 18 detractors (12 fives, 6 partial twos) of 78.
    nps_b, var_b = adjusted(40, 18, 78)
    nps_a, var_a = adjusted(35, 15, 60)
    half = Z * math.sqrt(var_a + var_b)
    nps = difference.metrics["nps"]
    assert nps.value == pytest.approx(round(100 * ((40 - 18) / 78 - 20 / 60), 1))
    assert nps.ci == (
        round(100 * (nps_b - nps_a - half), 2),
        round(100 * (nps_b - nps_a + half), 2),
    )
    assert nps.verdict == NO_DIFFERENCE  # the interval includes zero
    z = Z + Z_POWER
    p = (50 / 200 + 72 / 181) / 2
    assert b.needed_n == {
        "response_rate": math.ceil(2 * z * z * p * (1 - p) / 0.05**2 + 0.5),
        "nps": math.ceil((var_a * 63 + var_b * 81) * z * z / 0.1**2 - 3),
    }


def test_the_winner_takes_the_split_and_earlier_waves_stay_attributed(
    experiment: object,
) -> None:
    section = experiment_section(survey(winner="b"), experiment, ["w0", "w1"], min_n=0)  # type: ignore[arg-type]
    assert section is not None
    assert section.winner == "b"
    assert section.split == {"b": 100.0}
    assert section.variants["a"].share == 0.0
    assert section.variants["a"].invited == 200


def test_small_groups_are_suppressed_below_min_n(experiment: object) -> None:
    section = experiment_section(survey(), experiment, ["w1"], min_n=70)  # type: ignore[arg-type]
    assert section is not None
    assert section.variants["a"].metrics["nps"].suppressed
    assert not section.variants["b"].metrics["nps"].suppressed
    assert section.variants["b"].difference is not None
    assert section.variants["b"].difference.metrics["nps"].suppressed


def test_no_section_without_variants(experiment: object) -> None:
    plain = survey().model_copy(
        update={"invitation": survey().invitation.model_copy(update={"variants": []})}
    )
    section = experiment_section(plain, experiment, ["w0"], min_n=0)  # type: ignore[arg-type]
    assert section is None


def test_sample_sizes_follow_measuringu() -> None:
    # 50% vs 55% at 95% confidence, 80% power: 2 x 2.8016^2 x 0.249375 / 0.05^2 + 0.5
    # = 1566.35 per group.
    assert two_proportions_n(0.5, 0.55, 0.05) == 1567
    # Equal groups, 40% promoters and 20% detractors of 1,000 (Var ~ 0.56 each), 10 points.
    tally = {10: 400, 7: 400, 0: 200}
    _, variance = adjusted(400, 200, 1000)
    expected = math.ceil(2 * variance * 1003 * (Z + Z_POWER) ** 2 / 0.01 - 3)
    assert nps_comparison_n(tally, tally, 0.1) == expected
    with pytest.raises(ValueError, match="difference"):
        two_proportions_n(0.5, 0.5, 0)


def test_the_rates_and_their_difference_agree_with_statsmodels(experiment: object) -> None:
    """The same figures from statsmodels: Wilson score intervals of each response rate and
    Newcombe's hybrid score interval of their difference (its `newcomb` method)."""
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    section = experiment_section(survey(), experiment, ["w0", "w1"], min_n=0)  # type: ignore[arg-type]
    assert section is not None
    a, b = section.variants["a"], section.variants["b"]
    for figures, answered, invited in ((a, 50, 200), (b, 72, 181)):
        low, high = proportion_confint(answered, invited, alpha=0.05, method="wilson")
        assert figures.response_rate.ci == (round(100 * low, 2), round(100 * high, 2))
    low, high = confint_proportions_2indep(72, 181, 50, 200, method="newcomb", compare="diff")
    assert b.difference is not None
    assert b.difference.response_rate.ci == (round(100 * low, 2), round(100 * high, 2))
