"""Follow-up emails go through the wave path's send-and-record helper: whatever the
channel does, every claimed notification is recorded, and one that may have left is
`in_doubt`, never sent again on its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from cxops.channels.base import BatchContext, Delivery
from cxops.followup.mailing import Email, message_id, send_and_record
from cxops.messages.types import MessageGroup
from cxops.store import notifications as n
from cxops.store.db import open_store
from cxops.store.models import Notification

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
CLAIMER = n.Claimer.new(900)
WAVE = ("_digests", "2026-11-23")


class Channel:
    """A channel that answers for some messages, for none, or raises mid-batch."""

    name = "test"

    def __init__(self, answer: dict[str, str] | None = None, raises: bool = False):
        self.answer = answer or {}
        self.raises = raises
        self.calls = 0

    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        self.calls += 1
        if self.raises:
            raise TimeoutError("read timed out")
        ids = [r.send_id for g in groups for r in g.recipients]
        return [Delivery(i, self.answer[i]) for i in ids if i in self.answer]

    def close(self) -> None:
        return None


def email(key: str) -> Email:
    return Email(key, "csm@acme.example", "r@acme.example", None, "s", "<p>h</p>", "t")


@pytest.fixture
def store(store_url):
    opened = open_store(store_url)
    with opened.session() as session:
        for key in ("digest:a:1", "digest:b:1"):
            outcome = n.claim_notification(session, key, "digest", "csm@acme.example", NOW, CLAIMER)
            assert outcome == "claimed"
    yield opened
    opened.dispose()


def statuses(store) -> dict[str, str]:
    with store.session() as session:
        rows = session.query(Notification).filter(Notification.kind != "counter")
        return {row.key: row.status for row in rows}


def test_unreported_messages_are_in_doubt(store):
    channel = Channel({message_id("digest:a:1"): "sent"})
    result = send_and_record(
        store, channel, *WAVE, [email("digest:a:1"), email("digest:b:1")], NOW, CLAIMER
    )
    assert result == {"digest:a:1": "sent", "digest:b:1": "in_doubt"}
    assert statuses(store) == result


def test_a_channel_that_raises_leaves_every_message_in_doubt(store):
    with pytest.raises(TimeoutError):
        send_and_record(
            store,
            Channel(raises=True),
            *WAVE,
            [email("digest:a:1"), email("digest:b:1")],
            NOW,
            CLAIMER,
        )
    assert statuses(store) == {"digest:a:1": "in_doubt", "digest:b:1": "in_doubt"}
    with store.session() as session:  # and a later run does not claim them again
        outcome = n.claim_notification(session, "digest:a:1", "digest", "x", NOW, n.Claimer.new(9))
        assert outcome == "in_doubt"


def test_a_message_whose_claim_was_taken_over_is_not_sent(store):
    with store.session(write=True) as session:  # after the lease, another run took one
        taken = session.get(Notification, "digest:b:1")
        taken.claim_id = "other-host:1:x"
    channel = Channel({message_id("digest:a:1"): "sent", message_id("digest:b:1"): "sent"})
    result = send_and_record(
        store, channel, *WAVE, [email("digest:a:1"), email("digest:b:1")], NOW, CLAIMER
    )
    assert result == {"digest:a:1": "sent", "digest:b:1": "busy"}
    assert statuses(store) == {"digest:a:1": "sent", "digest:b:1": "pending"}


def test_every_message_taken_over_means_no_channel_call(store):
    channel = Channel()
    other = n.Claimer.new(900)
    result = send_and_record(store, channel, *WAVE, [email("digest:a:1")], NOW, other)
    assert result == {"digest:a:1": "busy"} and channel.calls == 0
