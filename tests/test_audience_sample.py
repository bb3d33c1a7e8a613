"""Seeded, reproducible, proportional sampling."""

from __future__ import annotations

import random

import pytest

from cxops.audience import StratifiedSampler, allocate, rank
from cxops.audience.sample import BottomK


def draw(items: list[tuple[str, str]], size: int, seed: int) -> list[str]:
    sampler: StratifiedSampler[str] = StratifiedSampler(size, seed)
    for key, stratum in items:
        sampler.add(key, stratum, key)
    return sampler.draw()


POPULATION = [(f"c-{n}", ["a", "b", "c"][n % 3]) for n in range(3000)]


def test_same_seed_same_sample_whatever_the_row_order() -> None:
    expected = sorted(draw(POPULATION, 300, seed=7))
    for shuffle_seed in range(3):
        shuffled = POPULATION[:]
        random.Random(shuffle_seed).shuffle(shuffled)
        assert sorted(draw(shuffled, 300, seed=7)) == expected


def test_different_seeds_draw_different_samples() -> None:
    first, second = set(draw(POPULATION, 300, 1)), set(draw(POPULATION, 300, 2))
    assert len(first) == len(second) == 300
    assert len(first & second) < 150  # about 30 expected in common


def test_the_sample_is_the_lowest_ranks_of_each_stratum() -> None:
    items = [(f"k{n}", "only") for n in range(50)]
    chosen = draw(items, 5, seed=9)
    assert chosen == sorted((key for key, _ in items), key=lambda k: rank(9, k))[:5]


def test_largest_remainder_allocation_is_exact() -> None:
    # 10 × (5, 3, 2) / 10 exactly; then 7 over (50, 30, 20): 3.5, 2.1, 1.4 -> 4, 2, 1.
    assert allocate(10, {"a": 5, "b": 3, "c": 2}) == {"a": 5, "b": 3, "c": 2}
    assert allocate(7, {"a": 50, "b": 30, "c": 20}) == {"a": 4, "b": 2, "c": 1}
    # 300 over (71, 128, 180): 56.20, 101.32, 142.48 -> the one left goes to c.
    assert allocate(300, {"enterprise": 71, "growth": 128, "smb": 180}) == {
        "enterprise": 56,
        "growth": 101,
        "smb": 143,
    }


def test_allocation_ties_go_to_the_larger_stratum_then_by_name() -> None:
    assert allocate(1, {"b": 2, "a": 2}) == {"a": 1, "b": 0}
    assert allocate(2, {"y": 3, "x": 3, "big": 6}) == {"y": 0, "x": 1, "big": 1}
    assert allocate(1, {"small": 1, "big": 3}) == {"small": 0, "big": 1}


def test_allocation_takes_everyone_when_size_covers_them() -> None:
    assert allocate(50, {"a": 5, "b": 3}) == {"a": 5, "b": 3}
    with pytest.raises(ValueError, match="sample size"):
        allocate(-1, {"a": 1})


def test_stratified_draw_matches_the_allocation() -> None:
    items = [(f"c-{n}", "a" if n < 700 else "b") for n in range(1000)]
    chosen = draw(items, 10, seed=0)
    assert sum(key in {k for k, s in items if s == "a"} for key in chosen) == 7
    assert len(chosen) == 10


def test_bottom_k_keeps_only_k_items() -> None:
    kept: BottomK[int] = BottomK(3)
    for n in range(1000):
        kept.add(rank(0, str(n)), str(n), n)
    assert kept.seen == 1000
    assert len(kept._heap) == 3
    best = sorted(range(1000), key=lambda n: rank(0, str(n)))[:3]
    assert kept.lowest(3) == best
