"""The channel protocol: every channel sends a batch of message groups at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from cxops.messages.types import MessageGroup

#: sent: accepted by the channel. failed: refused for good (reason given).
#: retry: certainly not accepted (may go back to pending). in_doubt: may or may not have left.
DeliveryStatus = Literal["sent", "failed", "retry", "in_doubt"]


@dataclass(frozen=True, slots=True)
class Delivery:
    send_id: str
    status: DeliveryStatus
    provider_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchContext:
    survey_id: str
    wave_id: str
    batch: int
    step: int = 0


class Channel(Protocol):
    name: str

    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        """Send every recipient of `groups`; one Delivery per recipient, in any order."""
        ...

    def close(self) -> None: ...
