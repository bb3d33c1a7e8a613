"""Send a batch through a channel and record an outcome for every message: the one
send-and-record helper of the wave path and the follow-up service.

The in-doubt rule: a message may have left unless the channel said otherwise. So
- the channel raising (a timeout, a dropped connection, a signal) makes every message
  of the batch `in_doubt` (error: the exception) — recorded, then the exception goes on;
- a message the channel reported nothing about is `in_doubt` too;
- nothing is ever recorded `retry` or `sent` unless the channel said so.
`record` is the caller's store write (the ledger, notifications); it is called once,
with one `Delivery` per message, before this function returns or re-raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cxops.channels.base import BatchContext, Channel, Delivery
from cxops.messages.types import MessageGroup

#: The error of a message the channel said nothing about.
NOT_REPORTED = "the channel reported nothing for this message"

Record = Callable[[Sequence[Delivery]], object]


def send_and_record(
    channel: Channel,
    groups: Sequence[MessageGroup],
    context: BatchContext,
    record: Record,
    *,
    decided: Sequence[Delivery] = (),
) -> list[Delivery]:
    """Send `groups` as one batch, `record` every outcome, and return them.

    `decided` are outcomes known without the channel (e.g. messages that failed to
    render); they are recorded with the rest. The result holds the channel's
    deliveries, then `decided`, then one `in_doubt` per message nobody reported on.
    """
    expected = [recipient.send_id for group in groups for recipient in group.recipients]
    try:
        reported = list(channel.send(groups, context)) if groups else []
    except BaseException as exc:
        # The channel may have sent some of them: never resend blindly.
        error = f"{type(exc).__name__}: {exc}"
        record([Delivery(send_id, "in_doubt", error=error) for send_id in expected] + [*decided])
        raise
    answered = {delivery.send_id for delivery in reported}
    deliveries = reported + list(decided)
    deliveries += [
        Delivery(send_id, "in_doubt", error=NOT_REPORTED)
        for send_id in expected
        if send_id not in answered
    ]
    record(deliveries)
    return deliveries
