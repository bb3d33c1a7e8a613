"""The send ledger on SQLite and PostgreSQL: never twice, nothing silently lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from cxops.channels.base import Delivery
from cxops.store import claims, ledger, waves
from cxops.store.db import Store, open_store
from cxops.store.models import Send
from cxops.store.suppressions import suppress

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SURVEY, WAVE = "nps-quarterly", "2026-11-23"

#: A claimer process: claims batches and marks them sent until nothing is pending,
#: printing each claimed send_id. With "hang", it claims one batch, says so, and waits.
CLAIMER = """
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from cxops.channels.base import Delivery
from cxops.store import claims, ledger, waves
from cxops.store.db import open_store

url, survey, wave, limit, go, mode = sys.argv[1:7]
store = open_store(url)
claim_id = claims.new_claim_id()
while not Path(go).exists():
    pass
now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
while True:
    rows = claims.claim_batch(store, survey, wave, 0, claim_id, int(limit), now)
    if not rows:
        break
    print(json.dumps({"claim": claim_id, "ids": [row.send_id for row in rows]}), flush=True)
    if mode == "hang":
        time.sleep(3600)
    claims.mark_results(
        store, claim_id, [Delivery(row.send_id, "sent", f"p-{row.send_id}") for row in rows], now
    )
print(json.dumps({"done": claim_id}), flush=True)
"""


def people(count: int, *, segment: str = "smb", start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "contact_key": f"c{i}",
            "email": f"person{i}@example.com",
            "segment": segment,
            "locale": "en",
            "contact": {"name": f"Person {i}", "since": "2024-01-02"},
        }
        for i in range(start, start + count)
    ]


def rows_by_status(store: Store) -> dict[str, str]:
    with store.session() as session:
        return dict(session.execute(select(Send.contact_key, Send.status)).tuples().all())


def all_sends(store: Store) -> list[Send]:
    with store.session() as session:
        return list(session.scalars(select(Send).order_by(Send.id)))


def claimer(url: str, limit: int, go: Path, mode: str = "run") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLAIMER, url, SURVEY, WAVE, str(limit), str(go), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def claimed_ids(output: str) -> list[str]:
    ids: list[str] = []
    for line in output.splitlines():
        ids.extend(json.loads(line).get("ids", []))
    return ids


# -- waves -----------------------------------------------------------------------------


def test_ensure_wave_is_idempotent(store: Store) -> None:
    first = waves.ensure_wave(store, SURVEY, WAVE, NOW)
    again = waves.ensure_wave(store, SURVEY, WAVE, NOW + timedelta(hours=1))
    assert first.id == again.id
    assert again.started_at == NOW
    assert again.status == "planning"


def test_wave_status_and_summary(store: Store) -> None:
    waves.ensure_wave(store, SURVEY, WAVE, NOW)
    waves.save_wave_summary(store, SURVEY, WAVE, {"audience": 10, "excluded": {"spam": 1}})
    waves.set_wave_status(store, SURVEY, WAVE, "complete", NOW + timedelta(minutes=5))
    wave = waves.get_wave(store, SURVEY, WAVE)
    assert wave is not None
    assert wave.status == "complete"
    assert wave.finished_at == NOW + timedelta(minutes=5)
    assert wave.summary == {"audience": 10, "excluded": {"spam": 1}}
    with pytest.raises(ValueError, match="unknown wave status"):
        waves.set_wave_status(store, SURVEY, WAVE, "exploded", NOW)
    with pytest.raises(LookupError):
        waves.save_wave_summary(store, SURVEY, "no-such-wave", {})


# -- planning --------------------------------------------------------------------------


def test_add_invitees_is_idempotent_and_numbers_batches(store: Store) -> None:
    assert ledger.add_invitees(store, SURVEY, WAVE, 0, people(5), NOW, batch_size=2) == 5
    before = {row.contact_key: (row.send_id, row.batch) for row in all_sends(store)}
    assert [before[f"c{i}"][1] for i in range(5)] == [0, 0, 1, 1, 2]

    later = NOW + timedelta(days=1)
    assert ledger.add_invitees(store, SURVEY, WAVE, 0, people(7), later, batch_size=2) == 2
    after = {row.contact_key: row for row in all_sends(store)}
    assert len(after) == 7
    for key, (send_id, batch) in before.items():
        assert (after[key].send_id, after[key].batch, after[key].created_at) == (
            send_id,
            batch,
            NOW,
        )
    # New rows go after the existing batches, numbered by their position in `rows`.
    assert (after["c5"].batch, after["c6"].batch) == (3 + 5 // 2, 3 + 6 // 2)
    assert after["c6"].contact == {"name": "Person 6", "since": "2024-01-02"}
    assert after["c6"].status == "pending"
    assert len({row.send_id for row in after.values()}) == 7
    assert all(len(row.send_id) == 32 for row in after.values())


def test_add_invitees_counts_each_step_and_wave_apart(store: Store) -> None:
    assert ledger.add_invitees(store, SURVEY, WAVE, 0, people(3), NOW) == 3
    assert ledger.add_invitees(store, SURVEY, WAVE, 1, people(3), NOW) == 3
    assert ledger.add_invitees(store, SURVEY, "next", 0, people(3), NOW) == 3
    assert ledger.add_invitees(store, SURVEY, WAVE, 0, people(3) + people(3), NOW) == 0


def test_add_invitees_in_several_chunks(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "_INSERT_CHUNK", 4)
    assert ledger.add_invitees(store, SURVEY, WAVE, 0, iter(people(10)), NOW, batch_size=3) == 10
    batches = [row.batch for row in all_sends(store)]
    assert batches == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]


# -- claiming --------------------------------------------------------------------------


def test_claim_never_returns_a_row_twice(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(10), NOW, batch_size=4)
    first = claims.claim_batch(store, SURVEY, WAVE, 0, "a", 4, NOW)
    second = claims.claim_batch(store, SURVEY, WAVE, 0, "b", 4, NOW)
    third = claims.claim_batch(store, SURVEY, WAVE, 0, "c", 4, NOW)
    assert [len(first), len(second), len(third)] == [4, 4, 2]
    assert claims.claim_batch(store, SURVEY, WAVE, 0, "d", 4, NOW) == []
    ids = [row.send_id for row in first + second + third]
    assert len(set(ids)) == 10
    assert [row.contact_key for row in first] == ["c0", "c1", "c2", "c3"]
    assert all(row.status == "sending" and row.claim_id == "a" for row in first)
    assert all(row.claimed_at == NOW for row in first)


def test_claim_skips_suppressed_emails_and_still_fills_the_batch(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(6), NOW)
    with store.session() as session:
        suppress(session, "person0@example.com", "unsubscribed", source="test", now=NOW)
        suppress(session, "person1@example.com", "bounced", source="test", now=NOW)
        suppress(session, "person2@example.com", "spam", source="test", now=NOW)
    claimed = claims.claim_batch(store, SURVEY, WAVE, 0, "a", 2, NOW)
    assert [row.contact_key for row in claimed] == ["c3", "c4"]
    errors = {row.contact_key: (row.status, row.error) for row in all_sends(store)}
    assert errors["c0"] == ("skipped", "unsubscribed")
    assert errors["c1"] == ("skipped", "bounced")
    assert errors["c2"] == ("skipped", "spam")
    assert errors["c5"] == ("pending", None)


def test_claim_only_takes_its_own_wave_and_step(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(2), NOW)
    ledger.add_invitees(store, SURVEY, WAVE, 1, people(2), NOW)
    ledger.add_invitees(store, "other", WAVE, 0, people(2), NOW)
    claimed = claims.claim_batch(store, SURVEY, WAVE, 1, "a", 10, NOW)
    assert {(row.survey_id, row.step) for row in claimed} == {(SURVEY, 1)}
    assert len(claimed) == 2


# -- results ---------------------------------------------------------------------------


def test_mark_results(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(5), NOW)
    rows = claims.claim_batch(store, SURVEY, WAVE, 0, "a", 5, NOW)
    sid = {row.contact_key: row.send_id for row in rows}
    later = NOW + timedelta(seconds=30)
    changed = claims.mark_results(
        store,
        "a",
        [
            Delivery(sid["c0"], "sent", "msg-0"),
            Delivery(sid["c1"], "failed", error="550 mailbox unavailable"),
            Delivery(sid["c2"], "retry", error="429 slow down"),
            Delivery(sid["c3"], "in_doubt", error="timeout"),
        ],
        later,
        channel="outbox",
    )
    assert changed == {"sent": 1, "failed": 1, "retry": 1, "in_doubt": 1}
    got = {row.contact_key: row for row in all_sends(store)}
    assert (got["c0"].status, got["c0"].sent_at, got["c0"].provider_id, got["c0"].channel) == (
        "sent",
        later,
        "msg-0",
        "outbox",
    )
    assert (got["c1"].status, got["c1"].error, got["c1"].sent_at) == (
        "failed",
        "550 mailbox unavailable",
        None,
    )
    assert (got["c2"].status, got["c2"].claim_id, got["c2"].claimed_at) == ("pending", None, None)
    assert got["c3"].status == "in_doubt"
    assert got["c4"].status == "sending"


def test_mark_results_records_shared_outcomes_as_per_row_ones(store: Store) -> None:
    """One Mail Send request's rows share their outcome: recorded in one statement."""
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(40), NOW)
    mine = claims.claim_batch(store, SURVEY, WAVE, 0, "mine", 36, NOW)
    theirs = claims.claim_batch(store, SURVEY, WAVE, 0, "theirs", 4, NOW)
    later = NOW + timedelta(seconds=5)
    deliveries = [Delivery(row.send_id, "sent", "request-1") for row in mine[:20]]
    deliveries += [Delivery(row.send_id, "in_doubt", error="no answer") for row in mine[20:30]]
    deliveries += [Delivery(row.send_id, "sent", f"own-{row.send_id}") for row in mine[30:33]]
    deliveries += [Delivery(row.send_id, "failed", error="400 bad") for row in mine[33:]]
    # Another claim's rows are never touched, whatever outcome names them.
    deliveries += [Delivery(row.send_id, "sent", "request-1") for row in theirs]
    changed = claims.mark_results(store, "mine", deliveries, later, channel="sendgrid")
    assert changed == {"sent": 23, "failed": 3, "retry": 0, "in_doubt": 10}
    got = {row.send_id: row for row in all_sends(store)}
    for row in mine[:20]:
        assert (got[row.send_id].status, got[row.send_id].provider_id) == ("sent", "request-1")
        assert (got[row.send_id].sent_at, got[row.send_id].channel) == (later, "sendgrid")
    for row in mine[20:30]:
        assert (got[row.send_id].status, got[row.send_id].error) == ("in_doubt", "no answer")
    for row in mine[30:33]:
        assert got[row.send_id].provider_id == f"own-{row.send_id}"
    for row in mine[33:]:
        assert (got[row.send_id].status, got[row.send_id].error) == ("failed", "400 bad")
    assert {got[row.send_id].status for row in theirs} == {"sending"}


def test_claimed_rows_are_what_the_ledger_holds(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(3), NOW, batch_size=2)
    claimed = {row.send_id: row for row in claims.claim_batch(store, SURVEY, WAVE, 0, "a", 3, NOW)}
    for stored in all_sends(store):
        row = claimed[stored.send_id]
        assert (row.id, row.contact_key, row.email, row.segment, row.locale, row.batch) == (
            stored.id,
            stored.contact_key,
            stored.email,
            stored.segment,
            stored.locale,
            stored.batch,
        )
        assert (row.contact, row.status, row.claim_id, row.claimed_at) == (
            stored.contact,
            stored.status,
            stored.claim_id,
            stored.claimed_at,
        )


def test_mark_results_touches_only_its_own_claim(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(2), NOW)
    mine = claims.claim_batch(store, SURVEY, WAVE, 0, "mine", 1, NOW)
    theirs = claims.claim_batch(store, SURVEY, WAVE, 0, "theirs", 1, NOW)
    changed = claims.mark_results(store, "mine", [Delivery(theirs[0].send_id, "sent")], NOW)
    assert changed["sent"] == 0
    claims.mark_results(store, "mine", [Delivery(mine[0].send_id, "sent")], NOW)
    # A second, contradicting answer for a finished row changes nothing.
    claims.mark_results(store, "mine", [Delivery(mine[0].send_id, "retry")], NOW)
    assert rows_by_status(store) == {mine[0].contact_key: "sent", theirs[0].contact_key: "sending"}


def test_mark_results_rejects_an_unknown_status(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown delivery status"):
        claims.mark_results(store, "a", [Delivery("x", "lost")], NOW)


# -- recovery --------------------------------------------------------------------------


def test_recover_leaves_live_claims_and_catches_dead_and_expired_ones(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(4), NOW)
    live = claims.new_claim_id()
    dead_pid = _dead_pid()
    host = live.split(":")[0]
    claims.claim_batch(store, SURVEY, WAVE, 0, live, 1, NOW)
    claims.claim_batch(store, SURVEY, WAVE, 0, f"{host}:{dead_pid}:abc", 1, NOW)
    claims.claim_batch(store, SURVEY, WAVE, 0, "elsewhere:1:abc", 1, NOW)
    claims.claim_batch(store, SURVEY, WAVE, 0, "elsewhere:2:old", 1, NOW - timedelta(hours=1))

    recovered = claims.recover_dead_claims(store, SURVEY, WAVE, 0, NOW, lease_seconds=900)
    assert recovered == 2
    by_claim = {row.claim_id: row.status for row in all_sends(store)}
    assert by_claim == {
        live: "sending",
        f"{host}:{dead_pid}:abc": "in_doubt",
        "elsewhere:1:abc": "sending",
        "elsewhere:2:old": "in_doubt",
    }
    # Past the lease, any claim is in doubt, even a live one.
    later = NOW + timedelta(seconds=901)
    assert claims.recover_dead_claims(store, SURVEY, WAVE, 0, later, lease_seconds=900) == 2


def test_resend_in_doubt_puts_rows_back_to_pending(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(3), NOW)
    rows = claims.claim_batch(store, SURVEY, WAVE, 0, "a", 3, NOW)
    claims.mark_results(store, "a", [Delivery(rows[0].send_id, "in_doubt", error="?")], NOW)
    claims.mark_results(store, "a", [Delivery(rows[1].send_id, "sent")], NOW)
    assert claims.resend_in_doubt(store, SURVEY, WAVE, 0) == 1
    again = claims.claim_batch(store, SURVEY, WAVE, 0, "b", 10, NOW)
    assert [row.send_id for row in again] == [rows[0].send_id]


def test_a_late_answer_from_a_run_thought_dead_is_kept(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(1), NOW)
    [row] = claims.claim_batch(store, SURVEY, WAVE, 0, "slow:1:x", 1, NOW)
    later = NOW + timedelta(hours=1)
    assert claims.recover_dead_claims(store, SURVEY, WAVE, 0, later, lease_seconds=60) == 1
    claims.mark_results(store, "slow:1:x", [Delivery(row.send_id, "sent", "m")], later)
    assert rows_by_status(store) == {"c0": "sent"}


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# -- reporting -------------------------------------------------------------------------


def test_wave_counts_and_failed_reasons(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(4, segment="smb"), NOW)
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(2, segment="ent", start=4), NOW)
    rows = claims.claim_batch(store, SURVEY, WAVE, 0, "a", 5, NOW)
    claims.mark_results(
        store,
        "a",
        [
            Delivery(rows[0].send_id, "sent"),
            Delivery(rows[1].send_id, "failed", error="bad address"),
            Delivery(rows[2].send_id, "failed", error="bad address"),
            Delivery(rows[3].send_id, "failed", error="too big"),
            Delivery(rows[4].send_id, "in_doubt"),
        ],
        NOW,
    )
    counts = ledger.wave_counts(store, SURVEY, WAVE, 0)
    assert {key: counts[key] for key in ledger.STATUSES} == {
        "pending": 1,
        "sending": 0,
        "sent": 1,
        "failed": 3,
        "in_doubt": 1,
        "skipped": 0,
    }
    assert counts["total"] == 6
    assert counts["first_sent_at"] == NOW  # when the wave's first invitation went out
    assert counts["by_segment"]["smb"]["failed"] == 3
    assert counts["by_segment"]["ent"] == {
        "pending": 1,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "in_doubt": 1,
        "skipped": 0,
    }
    reasons = ledger.failed_reasons(store, SURVEY, WAVE, 0, examples=1)
    assert reasons == {
        "bad address": {"count": 2, "examples": ["c1"]},
        "too big": {"count": 1, "examples": ["c3"]},
    }
    assert list(reasons) == ["bad address", "too big"]


# -- concurrency -----------------------------------------------------------------------


@pytest.mark.slow
def test_two_concurrent_claimers_claim_every_row_exactly_once(store: Store, tmp_path: Path) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(600), NOW)
    go = tmp_path / "go"
    workers = [claimer(store.url, 7, go), claimer(store.url, 11, go)]
    go.touch()
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        outputs.append(claimed_ids(out))
    first, second = (set(ids) for ids in outputs)
    assert len(outputs[0]) == len(first) and len(outputs[1]) == len(second)
    assert not first & second
    sends = all_sends(store)
    assert first | second == {row.send_id for row in sends}
    assert {row.status for row in sends} == {"sent"}
    assert all(row.provider_id == f"p-{row.send_id}" for row in sends)


@pytest.mark.slow
def test_a_killed_claimer_leaves_in_doubt_rows_and_the_rest_is_sent_once(
    store: Store, tmp_path: Path
) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(50), NOW)
    go = tmp_path / "go"
    go.touch()
    victim = claimer(store.url, 8, go, mode="hang")
    assert victim.stdout is not None
    line = json.loads(victim.stdout.readline())
    victim_ids = set(line["ids"])
    assert len(victim_ids) == 8
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)

    with store.session() as session:
        stuck = session.scalars(select(Send.send_id).where(Send.status == "sending")).all()
    assert set(stuck) == victim_ids

    assert claims.recover_dead_claims(store, SURVEY, WAVE, 0, NOW, lease_seconds=900) == 8
    survivor = claimer(store.url, 5, go)
    out, err = survivor.communicate(timeout=240)
    assert survivor.returncode == 0, err
    survivor_ids = claimed_ids(out)
    assert len(survivor_ids) == len(set(survivor_ids)) == 42
    assert not set(survivor_ids) & victim_ids
    statuses = {row.send_id: row.status for row in all_sends(store)}
    assert {statuses[send_id] for send_id in victim_ids} == {"in_doubt"}
    assert {statuses[send_id] for send_id in survivor_ids} == {"sent"}


def test_claim_skips_a_row_locked_by_another_transaction(postgres_url: str) -> None:
    """PostgreSQL: a row another transaction holds is skipped, not waited for."""
    store = open_store(postgres_url)
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(3), NOW)
    with store.session() as holder:
        holder.execute(
            update(Send).where(Send.contact_key == "c0").values(locale="en")
        )  # holds c0's row lock until the end of this block
        claimed = claims.claim_batch(store, SURVEY, WAVE, 0, "a", 3, NOW)
        assert sorted(row.contact_key for row in claimed) == ["c1", "c2"]
    assert claims.claim_batch(store, SURVEY, WAVE, 0, "b", 3, NOW)[0].contact_key == "c0"
    store.dispose()


def test_send_ids_are_unguessable_hex_kept_together_per_insert(store: Store) -> None:
    ledger.add_invitees(store, SURVEY, WAVE, 0, people(3000), NOW)
    ids = [row.send_id for row in all_sends(store)]
    assert len(set(ids)) == 3000
    assert all(len(send_id) == 32 and int(send_id, 16) >= 0 for send_id in ids)
    # 80 random bits of each id are its own; the first 12 digits keep one insert's ids
    # together in the unique index.
    assert len({send_id[:12] for send_id in ids}) == 1
    assert len({send_id[12:] for send_id in ids}) == 3000
