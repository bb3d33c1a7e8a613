"""Exclusions read from the store: suppressions, recent invitations, the contact cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from cxops.audience.eligibility import EXCLUSION_REASONS, History
from cxops.channels.base import Delivery
from cxops.durations import Limit, parse_duration
from cxops.store import claims, ledger
from cxops.store.db import Store
from cxops.store.history import StoreHistory, load_history
from cxops.store.models import Send
from cxops.store.suppressions import list_suppressions, suppress

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SURVEY, WAVE = "nps", "2026-11-23"
DAY = timedelta(days=1)


def invite(
    store: Store,
    email: str,
    *,
    survey: str = SURVEY,
    wave: str = "2026-08-01",
    at: datetime = NOW - 10 * DAY,
    outcome: str = "sent",
    step: int = 0,
) -> None:
    """One invitation of `email`, claimed and finished at `at` with `outcome`."""
    key = email.split("@")[0]
    row = {"contact_key": key, "email": email, "segment": "smb", "locale": "en", "contact": {}}
    ledger.add_invitees(store, survey, wave, step, [row], at)
    claim = f"test:{key}"
    claims.claim_batch(store, survey, wave, step, claim, 1, at)
    if outcome == "sending":
        return
    if outcome == "pending":
        claims.mark_results(
            store, claim, [Delivery(_send_id(store, email, survey, wave, step), "retry")], at
        )
        return
    claims.mark_results(
        store, claim, [Delivery(_send_id(store, email, survey, wave, step), outcome)], at
    )


def _send_id(store: Store, email: str, survey: str, wave: str, step: int) -> str:
    with store.session() as session:
        return session.scalars(
            select(Send.send_id).where(
                Send.email == email,
                Send.survey_id == survey,
                Send.wave_id == wave,
                Send.step == step,
            )
        ).one()


def history(store: Store, *, within: str | None = "90d", cap: Limit | None = None) -> StoreHistory:
    return load_history(
        store,
        survey_id=SURVEY,
        wave_id=WAVE,
        now=NOW,
        surveyed_within=parse_duration(within) if within else None,
        cap=cap,
    )


def test_is_a_history(store: Store) -> None:
    loaded: History = history(store)
    assert loaded.available is True
    assert loaded.exclusion("nobody@example.com") is None


def test_suppressions_exclude_with_their_reason(store: Store) -> None:
    with store.session() as session:
        suppress(session, "u@example.com", "unsubscribed", source="link", now=NOW)
        suppress(session, "s@example.com", "spam", source="sendgrid", now=NOW)
        suppress(session, "b@example.com", "bounced", source="sendgrid", now=NOW)
    loaded = history(store)
    assert [loaded.exclusion(e) for e in ("u@example.com", "s@example.com", "b@example.com")] == [
        "unsubscribed",
        "spam",
        "bounced",
    ]
    assert {loaded.exclusion(e) for e in ("u@example.com", "s@example.com")} <= set(
        EXCLUSION_REASONS
    )


def test_surveyed_within_counts_recent_invitations_of_other_waves(store: Store) -> None:
    invite(store, "recent@example.com", at=NOW - 30 * DAY)
    invite(store, "old@example.com", at=NOW - 91 * DAY)
    invite(store, "doubt@example.com", outcome="in_doubt")
    invite(store, "stuck@example.com", outcome="sending")
    invite(store, "failed@example.com", outcome="failed")
    invite(store, "retry@example.com", outcome="pending")
    invite(store, "reminded@example.com", step=1)
    invite(store, "elsewhere@example.com", survey="csat")
    invite(store, "this-wave@example.com", wave=WAVE)
    loaded = history(store)
    excluded = {
        email.split("@")[0]
        for email in (
            "recent@example.com",
            "old@example.com",
            "doubt@example.com",
            "stuck@example.com",
            "failed@example.com",
            "retry@example.com",
            "reminded@example.com",
            "elsewhere@example.com",
            "this-wave@example.com",
        )
        if loaded.exclusion(email) == "surveyed_within"
    }
    assert excluded == {"recent", "doubt", "stuck"}
    assert history(store, within=None).exclusion("recent@example.com") is None


def test_the_time_of_an_invitation_is_when_it_was_sent(store: Store) -> None:
    invite(store, "late@example.com", at=NOW - 100 * DAY)
    with store.session() as session:  # planned long ago, sent recently
        session.execute(
            update(Send)
            .where(Send.email == "late@example.com")
            .values(sent_at=NOW - 5 * DAY)
            .execution_options(synchronize_session=False)
        )
    assert history(store).exclusion("late@example.com") == "surveyed_within"


def test_contact_cap_counts_invitations_across_surveys(store: Store) -> None:
    invite(store, "twice@example.com", survey="csat", at=NOW - 3 * DAY)
    invite(store, "twice@example.com", survey="ces", at=NOW - 4 * DAY)
    invite(store, "once@example.com", survey="csat", at=NOW - 3 * DAY)
    invite(store, "long-ago@example.com", survey="csat", at=NOW - 60 * DAY)
    invite(store, "long-ago@example.com", survey="ces", at=NOW - 60 * DAY)
    invite(store, "here@example.com", wave=WAVE)
    invite(store, "here@example.com", survey="csat")
    cap = Limit(2, parse_duration("30d"))
    loaded = history(store, within=None, cap=cap)
    assert loaded.exclusion("twice@example.com") == "contact_cap"
    assert loaded.exclusion("once@example.com") is None
    assert loaded.exclusion("long-ago@example.com") is None
    # The wave being planned never counts against its own people.
    assert loaded.exclusion("here@example.com") is None
    assert (
        history(store, within=None, cap=Limit(1, parse_duration("30d"))).exclusion(
            "once@example.com"
        )
        == "contact_cap"
    )


def test_the_strongest_reason_wins(store: Store) -> None:
    invite(store, "all@example.com", at=NOW - 2 * DAY)
    invite(store, "all@example.com", survey="csat", at=NOW - 2 * DAY)
    cap = Limit(1, parse_duration("30d"))
    assert history(store, cap=cap).exclusion("all@example.com") == "surveyed_within"
    with store.session() as session:
        suppress(session, "all@example.com", "bounced", source="sendgrid", now=NOW)
    assert history(store, cap=cap).exclusion("all@example.com") == "bounced"


def test_a_resumed_wave_does_not_exclude_its_own_people(store: Store) -> None:
    invite(store, "resumed@example.com", wave=WAVE, at=NOW - DAY)
    cap = Limit(1, parse_duration("30d"))
    assert history(store, cap=cap).exclusion("resumed@example.com") is None


def test_list_suppressions(store: Store) -> None:
    with store.session() as session:
        suppress(session, "a@example.com", "bounced", source="sendgrid", now=NOW - DAY)
        suppress(session, "b@example.com", "unsubscribed", source="link", now=NOW)
        listed = [(s.email, s.reason) for s in list_suppressions(session)]
        bounced = [s.email for s in list_suppressions(session, reason="bounced")]
        with pytest.raises(ValueError):
            list_suppressions(session, reason="angry")
    assert listed == [("b@example.com", "unsubscribed"), ("a@example.com", "bounced")]
    assert bounced == ["a@example.com"]
