"""Metrics from tallies: units, categories, suppression, changes between waves."""

from __future__ import annotations

from collections import Counter

import pytest

from cxops.analysis.change import NO_CHANGE, mean_change, nps_change, share_change
from cxops.analysis.metrics import choice_metrics, nps, scored_metrics, share


def nps_tally(promoters: int, passives: int, detractors: int) -> Counter[int]:
    return Counter({10: promoters, 8: passives, 3: detractors})


def test_nps_in_points_with_its_interval() -> None:
    metric = nps(nps_tally(50, 30, 20)).as_dict()
    assert metric == {"value": 30.0, "ci": [14.05, 44.2], "n": 100}


def test_nps_categories_follow_the_scale() -> None:
    tally = Counter({0: 1, 6: 2, 7: 1, 8: 1, 9: 3, 10: 2})  # 3 detractors, 2 passives, 5 promoters
    metrics = scored_metrics("nps", tally)
    assert metrics["nps"].value == pytest.approx(20.0)
    assert metrics["promoters"].value == pytest.approx(50.0)
    assert metrics["passives"].value == pytest.approx(20.0)
    assert metrics["detractors"].value == pytest.approx(30.0)
    assert metrics["mean"].value == pytest.approx(74 / 10)  # 0+12+7+8+27+20


def test_csat_counts_4_and_5_and_ces_5_to_7() -> None:
    csat = scored_metrics("csat", Counter({1: 1, 3: 2, 4: 3, 5: 4}))
    assert csat["satisfied"].as_dict() == {"value": 70.0, "ci": [39.68, 89.22], "n": 10}
    assert csat["mean"].value == pytest.approx(3.9)
    ces = scored_metrics("ces", Counter({4: 15, 5: 85}))
    assert ces["easy"].as_dict() == {"value": 85.0, "ci": [76.72, 90.69], "n": 100}


def test_rating_mean_with_a_t_interval() -> None:
    metric = scored_metrics("rating", Counter({1: 1, 2: 1, 3: 1, 4: 1, 5: 1}))["mean"]
    assert metric.as_dict() == {"value": 3.0, "ci": [1.04, 4.96], "n": 5}
    assert scored_metrics("rating", Counter({4: 1}))["mean"].as_dict() == {
        "value": 4.0,
        "ci": None,
        "n": 1,
    }


def test_choice_shares_are_of_the_people_who_answered() -> None:
    shares = choice_metrics(["a", "b", "c"], {"a": 6, "b": 9}, answered=10)
    assert shares["a"].value == 60.0 and shares["b"].value == 90.0 and shares["c"].value == 0.0
    assert shares["c"].ci is not None and shares["c"].ci[0] == 0.0


def test_small_groups_are_suppressed_with_their_n() -> None:
    assert share(2, 4).as_dict(min_n=5) == {"suppressed": True, "n": 4}
    assert share(2, 5).as_dict(min_n=5)["value"] == 40.0
    assert nps(Counter()).as_dict() == {"value": None, "ci": None, "n": 0}


def test_nps_change_says_when_it_is_noise() -> None:
    change = nps_change(nps_tally(50, 30, 20), nps_tally(40, 30, 30)).as_dict()
    assert change["value"] == -20.0
    assert change["ci"] == [-41.39, 2.55]
    assert change["verdict"] == NO_CHANGE
    big = nps_change(nps_tally(500, 300, 200), nps_tally(400, 300, 300)).as_dict()
    assert big["verdict"] == "down" and big["ci"][1] < 0


def test_share_change_uses_newcombe() -> None:
    change = share_change(48, 80, 56, 70).as_dict()
    assert change["value"] == 20.0
    assert change["ci"] == [5.24, 33.39]
    assert change["verdict"] == "up"
    assert share_change(3, 4, 1, 4).as_dict(min_n=5) == {
        "suppressed": True,
        "n": 4,
        "n_previous": 4,
    }


def test_mean_change() -> None:
    same = mean_change(Counter({3: 5, 4: 5}), Counter({3: 5, 4: 5})).as_dict()
    assert same["value"] == 0.0 and same["verdict"] == NO_CHANGE
    assert mean_change(Counter({4: 1}), Counter({3: 9})).as_dict()["ci"] is None
