"""Migration 0009: addresses stored in mixed case before the edge lower-cased them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import select

from cxops.store.db import Store, alembic_config, head_revision
from cxops.store.models import (
    Interview,
    Notification,
    Response,
    Send,
    Suppression,
    Task,
    WebhookEvent,
)
from cxops.store.suppressions import suppression_reason
from cxops.testing.migrations import add_old_notifications, add_old_rows

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _send(n: int, email: str) -> Send:
    return Send(
        send_id=f"s{n}",
        survey_id="nps",
        wave_id="w1",
        step=0,
        contact_key=f"c{n}",
        email=email,
        segment="all",
        locale="en",
        contact={},
        status="sent",
        batch=0,
        created_at=T0,
    )


def _suppression(email: str, reason: str, days: int) -> Suppression:
    return Suppression(
        email=email, reason=reason, source=f"src-{reason}", created_at=T0 + timedelta(days=days)
    )


def _notification(key: str, kind: str, recipient: str, status: str, days: int) -> dict:
    return {
        "key": key,
        "kind": kind,
        "recipient": recipient,
        "status": status,
        "created_at": T0 + timedelta(days=days),
    }


def _fill_at_0008(store: Store) -> None:
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0008_privacy_health")
    with store.session() as session:
        add_old_rows(session, [_send(1, "Ann@X.Example"), _send(2, "bob@x.example")])
        add_old_rows(
            session,
            [
                # One address in three spellings: unsubscribed is the strongest.
                _suppression("Ann@X.Example", "bounced", 0),
                _suppression("ANN@x.example", "unsubscribed", 2),
                _suppression("ann@x.example", "spam", 1),
                # Only a mixed-case row: it must stay, lower-cased.
                _suppression("Carl@Y.Example", "bounced", 0),
                _suppression("dora@y.example", "spam", 0),
            ],
        )
        session.flush()
        add_old_rows(
            session,
            [
                Response(
                    send_id="s1",
                    survey_id="nps",
                    wave_id="w1",
                    contact_key="c1",
                    segment="all",
                    locale="en",
                    status="complete",
                    answers={"score": 3},
                    first_answered_at=T0,
                    updated_at=T0,
                )
            ],
        )
        add_old_rows(
            session,
            [
                Interview(
                    send_id="s1",
                    survey_id="nps",
                    wave_id="w1",
                    contact_key="c1",
                    email="Ann@X.Example",
                    status="accepted",
                    answered_at=T0,
                    updated_at=T0,
                )
            ],
        )
        add_old_rows(
            session,
            [
                WebhookEvent(
                    event_id="e1",
                    event="bounce",
                    send_id="s1",
                    email="ANN@X.EXAMPLE",
                    received_at=T0,
                )
            ],
        )
        session.flush()
        response_id = session.scalar(select(Response.id))
        add_old_rows(
            session,
            [
                Task(
                    response_id=response_id,
                    survey_id="nps",
                    wave_id="w1",
                    contact_key="c1",
                    segment="all",
                    rule_id="detractor",
                    rule_version="v1",
                    title="call",
                    assignee="Csm@X.Example",
                    priority="high",
                    created_at=T0,
                    due_at=T0,
                )
            ],
        )
        add_old_notifications(
            session,
            [
                # The same digest day in two spellings: the one sent is kept.
                _notification(
                    "digest:Csm@X.Example:2026-11-02", "digest", "Csm@X.Example", "sent", 0
                ),
                _notification(
                    "digest:csm@x.example:2026-11-02", "digest", "csm@x.example", "retry", 1
                ),
                _notification(
                    "digest:Csm@X.Example:2026-11-03", "digest", "Csm@X.Example", "retry", 2
                ),
                _notification("escalation:1:1", "escalation", "Lead@X.Example", "sent", 0),
                _notification(
                    "escalation:1:2", "escalation", "https://hooks.example/T/AbC", "sent", 0
                ),
            ],
        )


def test_0009_lower_cases_every_stored_address_and_merges_suppressions(store_url: str) -> None:
    with Store(store_url) as store:
        _fill_at_0008(store)
        store.upgrade()
        assert store.revision() == head_revision()
        with store.session() as session:
            assert sorted(session.scalars(select(Send.email))) == ["ann@x.example", "bob@x.example"]
            assert list(session.scalars(select(Interview.email))) == ["ann@x.example"]
            assert list(session.scalars(select(WebhookEvent.email))) == ["ann@x.example"]
            assert list(session.scalars(select(Task.assignee))) == ["csm@x.example"]

            suppressions = {
                s.email: (s.reason, s.source) for s in session.scalars(select(Suppression))
            }
            assert suppressions == {
                "ann@x.example": ("unsubscribed", "src-unsubscribed"),
                "carl@y.example": ("bounced", "src-bounced"),
                "dora@y.example": ("spam", "src-spam"),
            }
            # Found the way the edge looks addresses up, whatever the case asked.
            assert suppression_reason(session, "CARL@y.example") == "bounced"

            notes = {n.key: (n.recipient, n.status) for n in session.scalars(select(Notification))}
            assert notes == {
                "digest:csm@x.example:2026-11-02": ("csm@x.example", "sent"),
                "digest:csm@x.example:2026-11-03": ("csm@x.example", "retry"),
                "escalation:1:1": ("lead@x.example", "sent"),
                "escalation:1:2": ("https://hooks.example/T/AbC", "sent"),
            }


def test_0009_on_a_store_already_lower_case_changes_nothing(store_url: str) -> None:
    with Store(store_url) as store:
        with store.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0008_privacy_health")
        with store.session() as session:
            add_old_rows(session, [_send(1, "ann@x.example")])
            add_old_rows(session, [_suppression("ann@x.example", "spam", 0)])
        store.upgrade()
        with store.session() as session:
            (row,) = session.scalars(select(Suppression))
            assert (row.email, row.reason, row.created_at) == ("ann@x.example", "spam", T0)
            assert list(session.scalars(select(Send.email))) == ["ann@x.example"]
