"""The channel protocol: every channel sends a batch of message groups at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from cxops.messages.types import MessageGroup

#: sent: accepted by the channel. failed: refused for good (reason given).
#: retry: certainly not accepted (may go back to pending). in_doubt: may or may not have left.
DeliveryStatus = Literal["sent", "failed", "retry", "in_doubt"]

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._+=@-]")
#: C0 and C1 controls, DEL, and the Unicode line and paragraph separators: never in a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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

    @property
    def file_stem(self) -> str:
        """`batch-000012` for invitations, `reminder1-batch-000003` for reminder step 1."""
        stem = f"batch-{self.batch:06d}"
        return f"reminder{self.step}-{stem}" if self.step > 0 else stem


class Channel(Protocol):
    name: str

    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        """Send every recipient of `groups`; one Delivery per recipient, in any order."""
        ...

    def close(self) -> None: ...


def same_outcome(
    send_ids: Iterable[str],
    status: DeliveryStatus,
    *,
    provider_id: str | None = None,
    error: str | None = None,
) -> list[Delivery]:
    """One Delivery per send id, all with the same outcome."""
    return [Delivery(send_id, status, provider_id, error) for send_id in send_ids]


def safe_path_part(value: str) -> str:
    """`value` as one file-name component: no separators, no `..`, never empty."""
    cleaned = _UNSAFE_NAME.sub("_", value).strip(".") or "_"
    return cleaned


def clean_display_name(name: str | None) -> str | None:
    """A recipient's display name safe for every channel: control characters (CR, LF,
    NUL, …) become spaces, runs of white space one space; None when nothing is left.

    Commas, semicolons and quotes stay: a MIME channel quotes or encodes them (see
    `cxops.channels.mime.format_address`); SendGrid needs `sendgrid_display_name`.
    """
    if name is None:
        return None
    cleaned = " ".join(_CONTROL.sub(" ", name).split())
    return cleaned or None


def sendgrid_display_name(name: str | None) -> str | None:
    """`clean_display_name` without `,` and `;`, which SendGrid's Mail Send limitations
    forbid in `personalizations[].to[].name` (such mail is dropped as invalid)."""
    cleaned = clean_display_name(name)
    if cleaned is None:
        return None
    return " ".join(cleaned.replace(",", " ").replace(";", " ").split()) or None
