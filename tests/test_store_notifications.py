"""Notification claims with an owner: a dead run's claim is claimed again when it was
never handed to a channel, in doubt when it was, and a live run's is left alone
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cxops.store import notifications as n
from cxops.store.models import Notification
from cxops.testing.followup import dead_claimer

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
LEASE = 900


def live() -> n.Claimer:
    return n.Claimer.new(LEASE)


def dead() -> n.Claimer:
    """A claimer whose process (on this machine) has ended."""
    return dead_claimer(LEASE)


def elsewhere() -> n.Claimer:
    """A claimer on another machine: only the lease tells whether it lives."""
    return n.Claimer("other-host:4242:x", LEASE)


def claim(store, key: str, claimer: n.Claimer, now=NOW, **options) -> str:
    with store.session(write=True) as session:
        return n.claim_notification(
            session, key, "digest", "csm@acme.example", now, claimer, **options
        )


def row(store, key: str) -> Notification:
    with store.session() as session:
        found = session.get(Notification, key)
        assert found is not None
        session.expunge(found)
        return found


def hand_over(store, keys: list[str], claimer: n.Claimer) -> set[str]:
    with store.session(write=True) as session:
        return n.mark_sending(session, keys, claimer)


def finish(store, key: str, status: str, claimer: n.Claimer) -> None:
    with store.session(write=True) as session:
        n.finish_notification(session, key, status, NOW, claimer)


def test_a_claim_is_the_claimers_until_it_finishes(store):
    mine, other = live(), live()
    assert claim(store, "digest:a", mine) == "claimed"
    assert claim(store, "digest:a", other) == "busy"  # its run is alive: not taken
    assert hand_over(store, ["digest:a"], mine) == {"digest:a"}
    assert claim(store, "digest:a", other) == "busy"
    finish(store, "digest:a", "sent", mine)
    assert claim(store, "digest:a", other) == "done"
    kept = row(store, "digest:a")
    assert (kept.status, kept.claim_id, kept.attempts) == ("sent", mine.claim_id, 1)


def test_a_dead_runs_claim_never_handed_to_a_channel_is_claimed_again(store):
    gone = dead()
    assert claim(store, "digest:a", gone) == "claimed"
    mine = live()
    assert claim(store, "digest:a", mine) == "claimed"
    again = row(store, "digest:a")
    assert (again.status, again.claim_id, again.attempts) == ("pending", mine.claim_id, 2)
    assert hand_over(store, ["digest:a"], gone) == set()  # the dead run's hand is empty now
    finish(store, "digest:a", "sent", gone)
    assert row(store, "digest:a").status == "pending"  # …and it cannot finish it


def test_a_dead_runs_claim_handed_to_a_channel_is_in_doubt_until_asked(store):
    gone = dead()
    claim(store, "digest:a", gone)
    hand_over(store, ["digest:a"], gone)
    mine = live()
    assert claim(store, "digest:a", mine) == "in_doubt"
    doubted = row(store, "digest:a")
    assert (doubted.status, doubted.error) == ("in_doubt", n.DIED_WHILE_SENDING)
    assert claim(store, "digest:a", mine) == "in_doubt"  # reported again, never resent
    assert claim(store, "digest:a", mine, resend_in_doubt=True) == "claimed"
    assert row(store, "digest:a").attempts == 2


def test_a_late_definite_answer_beats_doubt(store):
    slow = elsewhere()
    claim(store, "digest:a", slow, now=NOW - timedelta(seconds=LEASE + 1))
    hand_over(store, ["digest:a"], slow)
    assert claim(store, "digest:a", live()) == "in_doubt"  # past the lease: dead, it seems
    finish(store, "digest:a", "sent", slow)  # it was alive after all
    assert row(store, "digest:a").status == "sent"


def test_another_machines_claim_counts_as_dead_only_after_the_lease(store):
    far = elsewhere()
    claim(store, "digest:a", far, now=NOW - timedelta(seconds=LEASE - 5))
    assert claim(store, "digest:a", live()) == "busy"
    claim(store, "digest:b", far, now=NOW - timedelta(seconds=LEASE + 5))
    assert claim(store, "digest:b", live()) == "claimed"


def test_only_the_claimers_own_pending_keys_are_handed_over(store):
    mine, other = live(), live()
    claim(store, "digest:a", mine)
    claim(store, "digest:b", other)
    assert hand_over(store, ["digest:a", "digest:b"], mine) == {"digest:a"}
    assert hand_over(store, ["digest:a"], mine) == set()  # once
    assert hand_over(store, [], mine) == set()
    assert row(store, "digest:b").status == "pending"


def test_a_webhook_claimed_by_a_run_that_died_is_offered_again(store):
    with store.session(write=True) as session:
        n.queue_notification(session, "notify:1", "webhook", "hook", NOW)
        n.queue_notification(session, "notify:2", "webhook", "hook", NOW)
        assert n.claim_notification(session, "notify:1", "webhook", "", NOW, dead()) == "claimed"
    with store.session(write=True) as session:
        offered = [x.key for x in n.notifications_to_retry(session, "webhook", 5)]
        assert offered == ["notify:1", "notify:2"]
        assert n.claim_notification(session, "notify:1", "webhook", "", NOW, live()) == "claimed"


def test_0011_makes_an_unowned_email_claim_in_doubt_and_an_unowned_webhook_queued(store_url):
    from alembic import command

    from cxops.store.db import Store, alembic_config, head_revision
    from cxops.testing.migrations import add_old_notifications

    with Store(store_url) as store:
        with store.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0010_responses_contact_index")
        with store.session() as session:
            add_old_notifications(
                session,
                [
                    {
                        "key": key,
                        "kind": kind,
                        "recipient": "r",
                        "status": status,
                        "created_at": NOW,
                    }
                    for key, kind, status in (
                        ("digest:a:1", "digest", "pending"),  # maybe handed over, maybe not
                        ("digest:b:1", "digest", "sent"),
                        ("escalation:1:1", "escalation", "pending"),
                        ("notify:1", "webhook", "pending"),
                        ("notify:2", "webhook", "retry"),
                        ("cursor:followups:nps", "cursor", "sent"),
                    )
                ],
            )
        store.upgrade()
        assert store.revision() == head_revision()
        with store.session() as session:
            found = {
                x.key: (x.status, x.error, x.claim_id)
                for x in session.query(Notification).order_by(Notification.key)
            }
        unowned = "claimed before cxops recorded claim owners; it may have been sent"
        assert found == {
            "cursor:followups:nps": ("sent", None, None),
            "digest:a:1": ("in_doubt", unowned, None),
            "digest:b:1": ("sent", None, None),
            "escalation:1:1": ("in_doubt", unowned, None),
            "notify:1": ("retry", None, None),
            "notify:2": ("retry", None, None),
        }
        assert claim(store, "digest:a:1", live()) == "in_doubt"


def test_follow_up_batches_get_numbers_nobody_else_got_even_at_once(store):
    import threading

    with store.session(write=True) as session:  # numbers used before the counter existed
        for index in range(3):
            n.queue_notification(session, f"notify:{index}", "webhook", "hook", NOW)
    with store.session(write=True) as session:
        first = n.next_batch(session, NOW)
    assert first == 4  # above the 3 notifications (and no task yet)
    got: list[int] = []

    def take() -> None:
        for _ in range(15):
            with store.session(write=True) as session:
                got.append(n.next_batch(session, NOW))

    runs = [threading.Thread(target=take) for _ in range(3)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(got) == list(range(first + 1, first + 46))
