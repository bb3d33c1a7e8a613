"""The gate protocol: a rule asked before a send, answering send, hold until T, or skip.

A wave asks its gates at three moments: before a contact is planned into the ledger
(`PLAN`), before a batch is claimed (`CLAIM`: once per segment that has due rows, then
once per claimed row), and before each reminder step (`REMIND`). The contact cap,
`policy.yaml`, survey priority, cooldowns, the interview goal, quotas, send windows and
the deliverability breaker are gates; a new rule is a new gate, never a special case in
the wave.

What the wave does with an answer:
- `SEND`: the contact is planned, the segment's rows may be claimed, the row is sent.
- `Hold(until, reason)`: the row waits in the ledger, `pending` with `not_before = until`
  and `held = reason` (a contact held at planning is planned as such a row; a claimed row
  goes back to pending with them), and is due again at `until`.
- `Skip(reason)`: the contact is not planned (counted by reason), or the row becomes
  `skipped` with `error = reason`.

Every hold and skip is recorded with its reason; the wave summary counts them
(`held`: reason -> count; `waiting`: count, earliest and latest `not_before`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Moment(StrEnum):
    """When a gate is asked."""

    PLAN = "plan"
    CLAIM = "claim"
    REMIND = "remind"


@dataclass(frozen=True, slots=True)
class Send:
    """Let it go."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Not before `until` (UTC-aware), because `reason` (short, stable: it is counted)."""

    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Skip:
    """Never in this wave and step, because `reason` (short, stable: it is counted)."""

    reason: str


Decision = Send | Hold | Skip
SEND = Send()


@dataclass(frozen=True, slots=True)
class Candidate:
    """The person a gate is asked about: the ledger's view of them."""

    contact_key: str
    email: str
    segment: str
    #: 0 the invitation, k reminder k.
    step: int
    #: The contact's columns as planning read them (as the ledger keeps them later).
    contact: dict[str, Any]
    #: The invitation variant of the row (None: none, or not assigned yet at PLAN).
    variant: str | None = None


class Gate(Protocol):
    """One rule that may hold a send back. Gates are built per wave and step (they hold
    what they read from the store for it) and must not write."""

    #: Names the gate in summaries and `why` (e.g. "policy", "send window", "quota").
    name: str

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        """The decision for one person (at PLAN, at CLAIM for a claimed row, at REMIND)."""
        ...

    def for_segment(self, segment: str, now: datetime) -> Decision:
        """Before a batch is claimed: the decision for the segment's due rows as a whole."""
        ...


def combine(decisions: Iterable[Decision]) -> Decision:
    """Several gates' answers as one: the first skip wins; else the latest hold; else send."""
    latest: Hold | None = None
    for decision in decisions:
        if isinstance(decision, Skip):
            return decision
        if isinstance(decision, Hold) and (latest is None or decision.until > latest.until):
            latest = decision
    return SEND if latest is None else latest


@dataclass(frozen=True)
class Gates:
    """The gates of one wave and step, asked together."""

    gates: tuple[Gate, ...] = ()

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        return combine(gate.for_contact(candidate, moment, now) for gate in self.gates)

    def for_segment(self, segment: str, now: datetime) -> Decision:
        return combine(gate.for_segment(segment, now) for gate in self.gates)
