"""Recruitment to a goal, pure: progress, status changes, incentives, the booking link.

A place towards the goal is held by every person `accepted` (consent ticked and
screened in), `booked` or `completed`; a `no_show` or `cancelled` frees theirs,
so recruiting resumes. `declined` and `screened_out` never held one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cxops.errors import CxopsError

STATUSES = (
    "accepted",
    "screened_out",
    "declined",
    "booked",
    "completed",
    "no_show",
    "cancelled",
)
HOLDS_A_PLACE = frozenset({"accepted", "booked", "completed"})
#: `cxops interviews mark REF WORD`: the word -> the stored status.
MARKS = {
    "booked": "booked",
    "completed": "completed",
    "no-show": "no_show",
    "cancelled": "cancelled",
}
#: Statuses of people who never took part: nothing to mark.
NOT_RECRUITED = frozenset({"declined", "screened_out"})

_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
_AMOUNT = re.compile(
    r"(?P<symbol>[$€£])\s?(?P<a>\d+(?:[.,]\d{1,2})?)"
    r"|(?P<b>\d+(?:[.,]\d{1,2})?)\s?(?P<code>[A-Z]{3})\b"
    r"|\b(?P<code2>[A-Z]{3})\s?(?P<c>\d+(?:[.,]\d{1,2})?)"
)


class InterviewError(CxopsError):
    """An interview cannot change that way (unknown reference, not completed, already paid)."""


@dataclass(frozen=True)
class Progress:
    """Recruitment progress of one interview study."""

    goal: int
    invited: int
    counts: dict[str, int]

    @property
    def holding(self) -> int:
        return sum(self.counts.get(status, 0) for status in HOLDS_A_PLACE)

    @property
    def accepted(self) -> int:
        """Everyone who ever accepted (a freed place included)."""
        freed = self.counts.get("no_show", 0) + self.counts.get("cancelled", 0)
        return self.holding + freed

    @property
    def booked(self) -> int:
        """Booked, completed included."""
        return self.counts.get("booked", 0) + self.counts.get("completed", 0)

    @property
    def completed(self) -> int:
        return self.counts.get("completed", 0)

    @property
    def places_left(self) -> int:
        return max(self.goal - self.holding, 0)

    @property
    def goal_reached(self) -> bool:
        return self.holding >= self.goal

    def as_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "invited": self.invited,
            "accepted": self.accepted,
            "booked": self.booked,
            "completed": self.completed,
            "holding_places": self.holding,
            "places_left": self.places_left,
            "goal_reached": self.goal_reached,
            "by_status": {status: self.counts.get(status, 0) for status in STATUSES},
        }

    def line(self) -> str:
        text = (
            f"invited {self.invited}, accepted {self.accepted}, booked {self.booked}, "
            f"completed {self.completed}, goal {self.goal}"
        )
        if self.goal_reached:
            return f"{text}: goal reached, nobody more is invited"
        return f"{text}: {self.places_left} place{'s' if self.places_left != 1 else ''} left"


def progress(goal: int, invited: int, statuses: Iterable[str]) -> Progress:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return Progress(goal, invited, counts)


def next_status(current: str, word: str, incentive_status: str) -> str:
    """The status after `cxops interviews mark REF WORD`; InterviewError when not allowed."""
    target = MARKS.get(word)
    if target is None:
        raise InterviewError(f"expected one of {', '.join(MARKS)}, found {word!r}")
    if current in NOT_RECRUITED:
        raise InterviewError(f"this person {current.replace('_', ' ')}: nothing to mark")
    if incentive_status == "paid" and target != "completed":
        raise InterviewError("the incentive was paid: the interview stays completed")
    return target


def consent_sha256(text: str) -> str:
    """The hash stored with a consent: of the exact text shown (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_incentive(text: str | None) -> tuple[float | None, str | None]:
    """The amount and ISO currency in an incentive text ('A $50 gift card' -> 50.0, USD)."""
    if not text:
        return None, None
    match = _AMOUNT.search(text)
    if match is None:
        return None, None
    if match["symbol"]:
        return float(match["a"].replace(",", ".")), _SYMBOLS[match["symbol"]]
    if match["code"]:
        return float(match["b"].replace(",", ".")), match["code"]
    return float(match["c"].replace(",", ".")), match["code2"]


def booking_link(booking_url: str, ref: str) -> str:
    """`booking_url` carrying the invitation's reference as `utm_content` (Calendly passes
    UTM parameters back in its webhooks' `tracking`), `utm_source=cxops` beside it."""
    parts = urlsplit(booking_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("utm_source", "utm_content")]
    query += [("utm_source", "cxops"), ("utm_content", ref)]
    return urlunsplit(parts._replace(query=urlencode(query)))
