"""Which invitation variant each invitee gets: seeded, stratified, balanced in small strata.

A wave's invitees are assigned in seeded permuted blocks within each stratum (a segment,
and within it a quota round): a block holds every variant in proportion to its weight
(50/25/25 is a block of four: a, a, b, c), shuffled by a generator seeded from the
survey's `invitation.seed` (default: its id) with the wave and the stratum. Each stratum
is therefore balanced to within one block whatever its size, and the variant a person
gets does not depend on their segment. The same survey, wave and invitees in the same
order give the same variants; the ledger keeps them (a person's reminders carry the
invitation's variant, a resumed wave finds its rows).

A triggered survey invites one person at a time, without a stratum to balance: each
gets the variant where a keyed hash of their contact key falls among the cumulative
weights (`variant_of`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from fractions import Fraction

#: The largest block: weights that need more are rounded to shares of this.
MAX_BLOCK = 1000


def block_of(weights: Mapping[str, float]) -> list[str]:
    """The smallest block holding each variant in proportion to its weight, in order."""
    if not weights or any(weight <= 0 for weight in weights.values()):
        raise ValueError(f"expected positive weights, found {dict(weights)}")
    total = sum(weights.values())
    shares = {
        name: Fraction(weight / total).limit_denominator(MAX_BLOCK)
        for name, weight in weights.items()
    }
    size = 1
    for share in shares.values():
        size = size * share.denominator // _gcd(size, share.denominator)
    if size > MAX_BLOCK:
        size = MAX_BLOCK
    counts = _largest_remainder(size, weights)
    return [name for name in weights for _ in range(counts[name])]


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _largest_remainder(size: int, weights: Mapping[str, float]) -> dict[str, int]:
    total = sum(weights.values())
    exact = {name: size * weight / total for name, weight in weights.items()}
    counts = {name: int(value) for name, value in exact.items()}
    left = size - sum(counts.values())
    for name in sorted(exact, key=lambda name: (counts[name] - exact[name], name))[:left]:
        counts[name] += 1
    return counts


def seed_text(seed: int | None, survey_id: str, wave_id: str) -> str:
    """What seeds a wave's assignment: the survey's `seed` (else its id) and the wave."""
    return f"{survey_id if seed is None else seed}:{wave_id}"


class VariantAssigner:
    """Seeded permuted blocks per stratum (see the module's docstring)."""

    def __init__(self, weights: Mapping[str, float], seed: str):
        self.block = block_of(weights)
        self.seed = seed
        self._queues: dict[str, list[str]] = {}
        self._generators: dict[str, random.Random] = {}

    def assign(self, stratum: str) -> str:
        """The next invitee of `stratum`'s variant."""
        queue = self._queues.get(stratum)
        if not queue:
            generator = self._generators.get(stratum)
            if generator is None:
                digest = hashlib.sha256(f"{self.seed}\0{stratum}".encode()).digest()
                generator = self._generators[stratum] = random.Random(digest)
            queue = self._queues[stratum] = list(self.block)
            generator.shuffle(queue)
        return queue.pop()


def variant_of(weights: Mapping[str, float], seed: str, contact_key: str) -> str:
    """One person's variant without a stratum: a keyed hash of the contact key placed
    among the cumulative weights (for invitations planned one at a time)."""
    digest = hashlib.sha256(f"{seed}\0{contact_key}".encode("utf-8", "surrogatepass")).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(weights.values())
    reached = 0.0
    for name, weight in weights.items():
        reached += weight
        if point < reached:
            return name
    return next(reversed(list(weights)))
