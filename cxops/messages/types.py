"""What the renderer hands to channels.

A `MessageGroup` is one rendering shared by many recipients whose messages differ
only in their own values: each recipient carries the substitutions that turn the
shared subject/html/text into exactly their own message. Channels that cannot
substitute (outbox, SMTP) call `expand()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Recipient:
    send_id: str
    email: str
    name: str | None
    #: marker -> this recipient's value, applied to subject, html and text alike.
    substitutions: dict[str, str]
    #: Per-recipient headers (List-Unsubscribe, List-Unsubscribe-Post).
    headers: dict[str, str]
    #: Carried through the provider to the event webhook: survey, wave, send_id.
    custom_args: dict[str, str]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One complete message for one recipient."""

    send_id: str
    to_email: str
    to_name: str | None
    from_header: str
    reply_to: str | None
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    custom_args: dict[str, str]


@dataclass(slots=True)
class MessageGroup:
    from_header: str
    reply_to: str | None
    subject: str
    html: str
    text: str
    recipients: list[Recipient] = field(default_factory=list)

    def expand(self) -> Iterator[OutgoingMessage]:
        """Every recipient's own message, substitutions applied."""
        for recipient in self.recipients:
            yield OutgoingMessage(
                send_id=recipient.send_id,
                to_email=recipient.email,
                to_name=recipient.name,
                from_header=self.from_header,
                reply_to=self.reply_to,
                subject=apply_substitutions(self.subject, recipient.substitutions),
                html=apply_substitutions(self.html, recipient.substitutions),
                text=apply_substitutions(self.text, recipient.substitutions),
                headers=recipient.headers,
                custom_args=recipient.custom_args,
            )


def apply_substitutions(text: str, substitutions: dict[str, str]) -> str:
    """Replace each marker by its value, as SendGrid applies `substitutions`."""
    for marker, value in substitutions.items():
        text = text.replace(marker, value)
    return text
