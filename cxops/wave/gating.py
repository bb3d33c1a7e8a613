"""The wave asks its gates at CLAIM, and writes down what they said.

Before a batch is claimed, each segment is asked (`Gate.for_segment`): a segment skipped
has its due rows skipped, a segment held has its due rows wait (`not_before`, `held`), and
only the segments let through are claimed. After the claim, each claimed row is asked
(`Gate.for_contact` at `Moment.CLAIM`): a held row goes back to `pending`, due at the
hold's time; a skipped row becomes `skipped`. Every hold and skip keeps its reason in the
ledger (`cxops.store.holds`), which the wave summary counts (`held`).

The gates of a wave (and step) are built once per run and kept here (`claim_gates`): they
read the contact log and the other surveys' audiences once, not once per batch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from cxops.audience import OTHER_SEGMENT
from cxops.gates.base import SEND, Candidate, Decision, Gates, Hold, Moment, Send, Skip
from cxops.gates.registry import gates_for
from cxops.store.claims import ClaimedSend
from cxops.store.db import Store
from cxops.store.holds import due_segments, hold_claimed, hold_segment, skip_claimed, skip_segment
from cxops.wave.ids import WaveContext

_KEPT = 8
_gates: OrderedDict[tuple[str, str, str, int, datetime], Gates] = OrderedDict()
_lock = threading.Lock()


def claim_gates(store: Store, wave: WaveContext) -> Gates:
    """The gates asked at CLAIM for this run of `wave` (built on first use, then kept)."""
    key = (wave.settings.store_url, wave.survey_id, wave.wave_id, wave.step, wave.now)
    with _lock:
        gates = _gates.get(key)
        if gates is None:
            gates = _gates[key] = gates_for(store, wave)
            while len(_gates) > _KEPT:
                _gates.popitem(last=False)
        return gates


def effective(decision: Decision, now: datetime) -> Decision:
    """A hold until a time already past lets the send go: the row would be due at once,
    claimed and held again, for ever."""
    if isinstance(decision, Hold) and decision.until <= now:
        return SEND
    return decision


def allowed_segments(
    store: Store, wave: WaveContext, gates: Gates, now: datetime
) -> list[str] | None:
    """The segments whose due rows may be claimed now (None: every one); the due rows of
    the others are skipped or made to wait, as their gate said."""
    if not gates.gates:
        return None
    known = dict.fromkeys([*wave.survey.audience.segments, OTHER_SEGMENT])
    decided = {segment: effective(gates.for_segment(segment, now), now) for segment in known}
    if all(isinstance(decision, Send) for decision in decided.values()):
        return None  # the common case: no query, no filter
    allowed: list[str] = []
    survey_id, wave_id, step = wave.survey_id, wave.wave_id, wave.step
    for segment in due_segments(store, survey_id, wave_id, step, now):
        decision = decided.get(segment)
        if decision is None:
            decision = effective(gates.for_segment(segment, now), now)
        if isinstance(decision, Skip):
            skip_segment(store, survey_id, wave_id, step, segment, now, decision.reason)
        elif isinstance(decision, Hold):
            hold_segment(
                store, survey_id, wave_id, step, segment, now, decision.until, decision.reason
            )
        else:
            allowed.append(segment)
    return allowed


@dataclass
class Screened:
    """A claimed batch after its rows were asked: those to send, and the rest by reason."""

    rows: list[ClaimedSend]
    held: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def screen_claimed(
    store: Store,
    wave: WaveContext,
    gates: Gates,
    claim_id: str,
    rows: list[ClaimedSend],
    now: datetime,
) -> Screened:
    """Ask each claimed row; write the holds and skips; the rows that may go."""
    if not gates.gates:
        return Screened(rows)
    # One gate (the usual: the contact policy) is asked directly: this runs for every row.
    ask = gates.gates[0].for_contact if len(gates.gates) == 1 else gates.for_contact
    keep: list[ClaimedSend] = []
    holds: dict[tuple[datetime, str], list[int]] = defaultdict(list)
    skips: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        candidate = Candidate(
            row.contact_key, row.email, row.segment, row.step, row.contact, row.variant
        )
        decision = effective(ask(candidate, Moment.CLAIM, now), now)
        if isinstance(decision, Skip):
            skips[decision.reason].append(row.id)
        elif isinstance(decision, Hold):
            holds[(decision.until, decision.reason)].append(row.id)
        else:
            keep.append(row)
    screened = Screened(keep)
    for (until, reason), ids in holds.items():
        hold_claimed(store, claim_id, ids, until, reason)
        screened.held[reason] = screened.held.get(reason, 0) + len(ids)
    for reason, ids in skips.items():
        skip_claimed(store, claim_id, ids, reason)
        screened.skipped[reason] = len(ids)
    return screened
