"""Assigning invitation variants: proportions within their binomial bounds, balance in
every segment, the same seed giving the same variants."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import pytest

from cxops.audience.variants import VariantAssigner, block_of, seed_text, variant_of

WEIGHTS = {"a": 50.0, "b": 25.0, "c": 25.0}


def within_binomial(count: int, n: int, p: float) -> bool:
    """`count` of `n` within four standard deviations of n·p (p < 1e-4 to fail by chance)."""
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def segments_of(n: int) -> list[str]:
    """Segments of very different sizes, in a shuffled order (like a source file)."""
    generator = random.Random(3)
    names = ["enterprise"] * 7 + ["growth"] * 130 + ["smb"] * (n - 137)
    generator.shuffle(names)
    return names


def test_the_block_holds_each_variant_by_its_weight() -> None:
    assert sorted(block_of(WEIGHTS)) == ["a", "a", "b", "c"]
    assert sorted(block_of({"x": 1, "y": 1, "z": 1})) == ["x", "y", "z"]
    assert Counter(block_of({"x": 33, "y": 67})) == {"x": 33, "y": 67}
    with pytest.raises(ValueError, match="positive"):
        block_of({"x": 1, "y": 0})


def test_ten_thousand_contacts_split_within_binomial_bounds() -> None:
    assigner = VariantAssigner(WEIGHTS, seed_text(None, "nps", "2026-12-01"))
    segments = segments_of(10_000)
    counts = Counter(assigner.assign(segment) for segment in segments)
    for variant, weight in WEIGHTS.items():
        assert within_binomial(counts[variant], 10_000, weight / 100), counts


def test_every_segment_is_balanced_to_within_one_block() -> None:
    assigner = VariantAssigner(WEIGHTS, "seed")
    segments = segments_of(10_000)
    by_segment: dict[str, Counter[str]] = {}
    for segment in segments:
        by_segment.setdefault(segment, Counter())[assigner.assign(segment)] += 1
    sizes = Counter(segments)
    for segment, counts in by_segment.items():
        for variant, weight in WEIGHTS.items():
            # A permuted block of four: at most the block's count of a variant away.
            assert abs(counts[variant] - sizes[segment] * weight / 100) <= 2, (segment, counts)
    # The seven enterprise contacts: one full block of four and three of the next.
    assert sum(by_segment["enterprise"].values()) == 7
    assert by_segment["enterprise"]["a"] >= 2


def test_the_same_seed_gives_the_same_variants_and_another_wave_others() -> None:
    segments = segments_of(2_000)

    def run(seed: str) -> list[str]:
        assigner = VariantAssigner(WEIGHTS, seed)
        return [assigner.assign(segment) for segment in segments]

    first = run(seed_text(None, "nps", "w1"))
    assert run(seed_text(None, "nps", "w1")) == first
    assert run(seed_text(None, "nps", "w2")) != first
    assert run(seed_text(7, "nps", "w1")) != first
    assert seed_text(7, "nps", "w1") == seed_text(7, "csat", "w1")


def test_not_periodic_in_the_source_order() -> None:
    assigner = VariantAssigner({"a": 1, "b": 1}, "s")
    sequence = [assigner.assign("one") for _ in range(1_000)]
    alternating = sum(x != y for x, y in itertools.pairwise(sequence))
    # Strict alternation would be 999 changes; a seeded permutation of blocks of two
    # changes about three times in four.
    assert 600 < alternating < 900


def test_one_at_a_time_by_the_contact_key() -> None:
    seed = seed_text(None, "csat-ticket", "events")
    counts = Counter(variant_of(WEIGHTS, seed, f"c-{index}") for index in range(10_000))
    for variant, weight in WEIGHTS.items():
        assert within_binomial(counts[variant], 10_000, weight / 100), counts
    assert variant_of(WEIGHTS, seed, "c-1") == variant_of(WEIGHTS, seed, "c-1")
