"""Seeded, reproducible sampling with proportional allocation over strata.

Each contact gets a rank from a keyed hash of (seed, contact key): the sample of a
stratum is its `k` lowest ranks, so the same input and seed give the same sample
whatever the row order. Only the `size` lowest ranks of each stratum are kept
(bottom-k in a heap), never every eligible contact.

With quota rounds (`audience.quota.rounds`) there is no size: every eligible contact is
kept, and each stratum (segment) is cut in the same seeded order into rounds of `size`:
round 1 is a stratum's `size` lowest ranks, round 2 the next `size`, and so on
(`RoundSampler`). A person is in one round only, so the rounds never invite anyone twice.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


def rank(seed: int, key: str) -> int:
    """A 64-bit pseudo-random rank of `key`, fixed for one `seed`."""
    digest = hashlib.blake2b(
        key.encode("utf-8", "surrogatepass"),
        digest_size=8,
        key=str(seed).encode(),
        person=b"cxops-sample",
    ).digest()
    return int.from_bytes(digest, "big")


def allocate(size: int, counts: Mapping[str, int]) -> dict[str, int]:
    """How many of `size` each stratum gets, proportional to `counts` (largest remainder).

    Every stratum first gets the whole part of size × n / total; the seats left go
    to the largest remainders, ties broken by the larger stratum, then by name.
    When `size` covers everyone, every stratum gets all its members.
    """
    if size < 0:
        raise ValueError(f"expected a sample size >= 0, found {size}")
    total = sum(counts.values())
    if size >= total:
        return dict(counts)
    shares = {name: divmod(size * n, total) for name, n in counts.items()}
    allocation = {name: whole for name, (whole, _) in shares.items()}
    left = size - sum(allocation.values())
    by_remainder = sorted(shares, key=lambda name: (-shares[name][1], -counts[name], name))
    for name in by_remainder[:left]:
        allocation[name] += 1
    return allocation


class BottomK(Generic[T]):
    """The `k` items with the lowest (rank, key) seen so far."""

    def __init__(self, k: int):
        self.k = k
        self.seen = 0
        # A max-heap by (rank, key) through negation: the root is the worst kept item.
        self._heap: list[tuple[int, _Reversed, T]] = []

    def add(self, item_rank: int, key: str, item: T) -> None:
        self.seen += 1
        if self.k <= 0:
            return
        entry = (-item_rank, _Reversed(key), item)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, entry)
        elif (item_rank, key) < (-self._heap[0][0], self._heap[0][1].key):
            heapq.heapreplace(self._heap, entry)

    def lowest(self, n: int) -> list[T]:
        """The `n` lowest-ranked items kept, lowest first."""
        ordered = sorted(self._heap, key=lambda entry: (-entry[0], entry[1].key))
        return [item for _, _, item in ordered[:n]]


class _Reversed:
    """A key that sorts backwards, so the heap root is the largest (rank, key)."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return self.key > other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.key == other.key

    __hash__ = None  # type: ignore[assignment]


class StratifiedSampler(Generic[T]):
    """Draws `size` items proportionally over strata, reproducibly for one seed.

    Memory is O(size × strata): each stratum keeps at most `size` items.
    """

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.seed = seed
        self._strata: dict[str, BottomK[T]] = {}

    def add(self, key: str, stratum: str, item: T) -> None:
        """Offer `item` (identified by the unique `key`) in `stratum`."""
        kept = self._strata.get(stratum)
        if kept is None:
            kept = self._strata[stratum] = BottomK(self.size)
        kept.add(rank(self.seed, key), key, item)

    @property
    def counts(self) -> dict[str, int]:
        """Items offered per stratum."""
        return {name: kept.seen for name, kept in self._strata.items()}

    def draw(self) -> list[T]:
        """The sample: each stratum's allocation of its lowest-ranked items."""
        allocation = allocate(self.size, self.counts)
        chosen: list[T] = []
        for name in sorted(self._strata):
            chosen.extend(self._strata[name].lowest(allocation[name]))
        return chosen


class RoundSampler(Generic[T]):
    """Every item, cut per stratum into rounds of `size` in the seeded order: round k is
    the stratum's ranks (k - 1) x size ... k x size - 1. Memory: O(items)."""

    def __init__(self, size: int, seed: int = 0):
        if size < 1:
            raise ValueError(f"expected a round size >= 1, found {size}")
        self.size = size
        self.seed = seed
        self._strata: dict[str, list[tuple[int, str, T]]] = {}

    def add(self, key: str, stratum: str, item: T) -> None:
        """Offer `item` (identified by the unique `key`) in `stratum`."""
        self._strata.setdefault(stratum, []).append((rank(self.seed, key), key, item))

    @property
    def counts(self) -> dict[str, int]:
        """Items offered per stratum."""
        return {name: len(items) for name, items in self._strata.items()}

    def rounds(self) -> dict[str, int]:
        """How many rounds each stratum takes."""
        return {name: -(-n // self.size) for name, n in self.counts.items()}

    def draw(self) -> list[tuple[int, T]]:
        """(round, item) of every item: by stratum, then the seeded order."""
        drawn: list[tuple[int, T]] = []
        for name in sorted(self._strata):
            ordered = sorted(self._strata[name], key=lambda entry: (entry[0], entry[1]))
            drawn.extend(
                (1 + index // self.size, item) for index, (_, _, item) in enumerate(ordered)
            )
        return drawn
