"""Ledger rows and links for tests, benchmarks and demos of the collector.

The wave engine writes real sends; these helpers write the same rows directly so the
collector can be exercised without running a wave.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cxops.messages.tokens import make_token
from cxops.store.db import Store
from cxops.store.models import Send


@dataclass(frozen=True, slots=True)
class SentInvitation:
    """A sent invitation's id and the paths of its links (relative to the public URL)."""

    send_id: str
    email: str
    answer_path: str
    unsubscribe_path: str
    honeypot_path: str


def add_send(
    store: Store,
    *,
    survey_id: str,
    contact_key: str,
    email: str,
    sent_at: datetime,
    locale: str = "en",
    segment: str = "other",
    wave_id: str = "w1",
    step: int = 0,
    contact: dict[str, Any] | None = None,
) -> str:
    """Insert a `sent` ledger row and return its random send id."""
    send_id = secrets.token_hex(12)
    with store.session(write=True) as session:
        session.add(
            Send(
                send_id=send_id,
                survey_id=survey_id,
                wave_id=wave_id,
                step=step,
                contact_key=contact_key,
                email=email,
                segment=segment,
                locale=locale,
                contact={"key": contact_key, "email": email, "locale": locale, **(contact or {})},
                status="sent",
                created_at=sent_at,
                sent_at=sent_at,
                channel="outbox",
            )
        )
    return send_id


def links(key: bytes, send_id: str, email: str, expires_at: datetime) -> SentInvitation:
    """The answer, unsubscribe and honeypot paths of a send, signed with `key`."""
    return SentInvitation(
        send_id=send_id,
        email=email,
        answer_path="/a/" + make_token(key, "answer", send_id, expires_at),
        unsubscribe_path="/u/" + make_token(key, "unsubscribe", send_id, expires_at),
        honeypot_path="/h/" + make_token(key, "honeypot", send_id, expires_at),
    )


def invite(
    store: Store,
    key: bytes,
    *,
    survey_id: str,
    contact_key: str,
    email: str,
    sent_at: datetime,
    valid_for: timedelta = timedelta(days=14),
    **fields: Any,
) -> SentInvitation:
    """`add_send` and its links in one step."""
    send_id = add_send(
        store, survey_id=survey_id, contact_key=contact_key, email=email, sent_at=sent_at, **fields
    )
    return links(key, send_id, email, sent_at + valid_for)


def client_for(app: Any, **options: Any) -> Any:
    """A `fastapi.testclient.TestClient` for `app` (its httpx deprecation notice muted)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from fastapi.testclient import TestClient

        return TestClient(app, **options)


#: An interview study with a screener (admins only), consent, incentive and a booking link;
#: its file is `surveys/talk.yaml` in a test project.
INTERVIEW_STUDY = """\
id: talk
name: Talk to us
kind: interview
audience:
  source: {csv: data/customers.csv, key: id}
questions:
  - {id: role, type: single, text: "Your role?", options: [Admin, Viewer]}
interview:
  goal: 2
  batch: 5
  duration: 45m
  incentive: "A $40 voucher"
  booking_url: "https://book.example/slots"
  consent: "We record the call and delete it after 90 days."
  screen: "answers.role == 'Admin'"
invitation:
  template: interview_invite
  from: "Research <research@acme.example>"
  locales: [en, de]
followup:
  - when: "answers.accepted"
    task: "Confirm the slot with {{ contact.email }}"
    assign_to: research-ops@acme.example
    due: 1 business day
"""
