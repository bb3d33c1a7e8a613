"""The one send-and-record helper: every message gets an outcome, doubt is never guessed away."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cxops.channels.base import BatchContext, Delivery
from cxops.messages.types import MessageGroup, Recipient
from cxops.wave.deliver import NOT_REPORTED, send_and_record

CONTEXT = BatchContext(survey_id="s", wave_id="w", batch=1)


def group(*send_ids: str) -> MessageGroup:
    recipients = [Recipient(i, f"{i}@x.example", None, {}, {}, {}) for i in send_ids]
    return MessageGroup("a@x.example", None, "subject", "<p>hi</p>", "hi", recipients)


class Reporting:
    """Says `sent` for the send ids it knows, nothing about the others."""

    name = "reporting"

    def __init__(self, known: set[str]):
        self.known = known
        self.batches: list[int] = []

    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        self.batches.append(context.batch)
        ids = [r.send_id for g in groups for r in g.recipients]
        return [Delivery(i, "sent", provider_id="p") for i in ids if i in self.known]

    def close(self) -> None:
        pass


class Exploding(Reporting):
    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        raise TimeoutError("read timed out")


def test_messages_the_channel_says_nothing_about_are_in_doubt() -> None:
    recorded: list[Delivery] = []
    decided = [Delivery("bad", "failed", error="cannot render")]
    result = send_and_record(
        Reporting({"a", "c"}), [group("a", "b"), group("c")], CONTEXT, recorded.extend,
        decided=decided,
    )  # fmt: skip
    assert result == recorded
    by_id = {d.send_id: d for d in recorded}
    assert {i: d.status for i, d in by_id.items()} == {
        "a": "sent",
        "c": "sent",
        "bad": "failed",
        "b": "in_doubt",
    }
    assert by_id["b"].error == NOT_REPORTED


def test_a_channel_that_raises_leaves_the_whole_batch_in_doubt_and_the_error_goes_on() -> None:
    recorded: list[Delivery] = []
    with pytest.raises(TimeoutError):
        send_and_record(
            Exploding(set()), [group("a", "b")], CONTEXT, recorded.extend,
            decided=[Delivery("bad", "failed", error="cannot render")],
        )  # fmt: skip
    assert [(d.send_id, d.status) for d in recorded] == [
        ("a", "in_doubt"),
        ("b", "in_doubt"),
        ("bad", "failed"),
    ]
    assert recorded[0].error == "TimeoutError: read timed out"


def test_nothing_to_send_never_calls_the_channel() -> None:
    channel = Reporting(set())
    recorded: list[Delivery] = []
    decided = [Delivery("bad", "failed", error="cannot render")]
    assert send_and_record(channel, [], CONTEXT, recorded.extend, decided=decided) == decided
    assert channel.batches == [] and recorded == decided
