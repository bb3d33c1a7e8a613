"""Who a task goes to: never nobody.

The rule's `assign_to` (rendered) when it is a valid address, else the rule's
`fallback`, else the survey's `owner`, else the survey's sender (the invitation's
`from` address), which every survey has.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal

from cxops.audience.contacts import normalize_email

Via = Literal["assign_to", "fallback", "owner", "sender"]


@dataclass(frozen=True, slots=True)
class Assignment:
    email: str
    via: Via
    #: Why `assign_to` was not used (empty, invalid, failed to render); "" when it was.
    reason: str = ""


def choose_assignee(
    rendered: str | None,
    *,
    render_error: str | None = None,
    fallback: str | None,
    owner: str | None,
    sender: str,
) -> Assignment:
    """The first valid address of: rendered `assign_to`, `fallback`, `owner`, `sender`."""
    reason = ""
    if render_error:
        reason = f"assign_to failed: {render_error}"
    elif rendered is None or not rendered.strip():
        reason = "assign_to is empty" if rendered is not None else "no assign_to"
    else:
        email = normalize_email(rendered)
        if email:
            return Assignment(email, "assign_to")
        reason = f"assign_to is not an address: {rendered.strip()[:80]!r}"
    for via, candidate in (("fallback", fallback), ("owner", owner)):
        email = normalize_email(candidate)
        if email:
            return Assignment(email, via, reason)  # type: ignore[arg-type]
    email = normalize_email(parseaddr(sender)[1])
    if email is None:
        raise ValueError(f"the survey sender {sender!r} is not an address")
    return Assignment(email, "sender", reason)


def escalation_recipient(
    *, escalate_to: str | None, owner: str | None, fallback: str | None, assignee: str
) -> str:
    """Where an overdue task escalates: `escalate_to`, else the owner, else the fallback.

    A survey with neither tells the assignee again rather than nobody.
    """
    for candidate in (escalate_to, owner, fallback):
        email = normalize_email(candidate)
        if email:
            return email
    return assignee
