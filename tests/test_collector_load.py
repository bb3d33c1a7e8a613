"""Load on the collector, on SQLite and PostgreSQL, checked in the store:

- hundreds of concurrent clients answering distinct invitations: every answer that got
  a thank-you is stored, exactly once, with the score it sent;
- many clients at once on the same invitation: one response row, never two, and it
  holds one of the scores that were acknowledged;
- the collector, a wave and follow-up runs at once on one SQLite file: no request and
  no command fails with 'database is locked'.
"""

from __future__ import annotations

import asyncio
import mailbox
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from cxops.collect.app import create_app
from cxops.store.db import open_store
from cxops.store.models import Response
from cxops.testing.collect import invite, invite_many, post_answers
from cxops.testing.followup import serving

DISTINCT = 200
SAME = 100


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_hundreds_of_concurrent_answers_are_each_stored_once(project, store_url):
    settings = project.settings(database_url=store_url)
    store = open_store(store_url)
    invitations = invite_many(store, settings, DISTINCT + 1, "load.example")
    shared = invitations[-1]
    posts = [(inv.answer_path, index % 11) for index, inv in enumerate(invitations[:-1])]
    posts += [(shared.answer_path, index % 11) for index in range(SAME)]
    try:
        with serving(create_app(settings, store=store)) as base:
            statuses = asyncio.run(post_answers(base, posts))
        with store.session() as session:
            rows = {
                send_id: answers
                for send_id, answers in session.execute(select(Response.send_id, Response.answers))
            }
            count = session.scalar(select(func.count()).select_from(Response))
    finally:
        store.dispose()
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    acknowledged = [post for post, status in zip(posts, statuses, strict=True) if status == 200]
    assert len(acknowledged) >= DISTINCT, "the collector kept up"
    assert count == len(rows) == DISTINCT + 1, "one row per invitation, never two"
    for index, status in enumerate(statuses[:DISTINCT]):
        if status == 200:
            assert rows[invitations[index].send_id]["score"] == posts[index][1]
    shared_scores = {score for (path, score), status in zip(posts, statuses, strict=True)
                     if path == shared.answer_path and status == 200}  # fmt: skip
    assert rows[shared.send_id]["score"] in shared_scores


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_database_connections_killed_under_load_lose_no_acknowledged_answer(project, postgres_url):
    """Invariant: while the database drops every connection again and again, each answer
    the collector acknowledged (200) is stored; the others got 503 (retryable), and once
    the database is back a retry stores them — none lost, none doubled."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    settings = project.settings(database_url=postgres_url)
    store = open_store(postgres_url)
    invitations = invite_many(store, settings, 120, "fault.example")
    database = make_url(postgres_url).database
    admin = create_engine(
        make_url(postgres_url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )

    def kill_connections() -> int:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).all()
            )

    posts = [(inv.answer_path, index % 11) for index, inv in enumerate(invitations)]
    statuses: list[int] = []
    killed = 0
    try:
        with serving(create_app(settings, store=store)) as base:
            for start in range(0, len(posts), 20):
                killed += kill_connections()
                statuses += asyncio.run(post_answers(base, posts[start : start + 20]))
            assert set(statuses) <= {200, 503}, sorted(set(statuses))
            with store.session() as session:
                stored = set(session.scalars(select(Response.send_id)))
            for index, status in enumerate(statuses):
                if status == 200:
                    assert invitations[index].send_id in stored, "an acknowledged answer lost"
            retry = [posts[i] for i, status in enumerate(statuses) if status != 200]
            for _ in range(5):
                if not retry:
                    break
                again = asyncio.run(post_answers(base, retry))
                retry = [post for post, status in zip(retry, again, strict=True) if status != 200]
            assert not retry, "the collector answers again once the database is back"
        with store.session() as session:
            rows = dict(session.execute(select(Response.send_id, Response.answers)).all())
    finally:
        store.dispose()
        admin.dispose()
    assert killed > 0, "connections were really terminated"
    assert len(rows) == len(invitations)
    for index, invitation in enumerate(invitations):
        assert rows[invitation.send_id]["score"] == posts[index][1]


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.timeout(900)
def test_collector_wave_reminders_and_followups_at_once_on_one_store(
    project, prefect_env, store_url
):
    """Invariant: while the collector takes answers (and /healthz writes) under load, a
    `cxops run` sends a wave in small batches, `cxops followups` runs again and again and
    so does `cxops remind` (as four days later), all on one store (a SQLite file; a
    PostgreSQL database), no request fails and no command fails ('database is locked'
    nowhere): every answer is stored with its score, every invitation sent once, and the
    follow-ups made exactly the tasks the rules ask for."""
    import threading
    import time

    from cxops.store.models import Send, Task
    from cxops.testing.project import run_cxops

    settings = project.settings(database_url=store_url)
    store = open_store(settings.store_url)
    key = settings.signing_key()
    sent_at = settings.clock() - timedelta(hours=1)
    people = 240
    invitations = [
        invite(
            store,
            key,
            survey_id="nps-quarterly",
            contact_key=f"a{index}",
            email=f"a{index}@answers.example",
            sent_at=sent_at,
            wave_id="answers",
            segment=("enterprise", "smb")[index % 2],
            contact={"name": f"A {index}", "company": "Acme", "csm_email": "csm@acme.example"},
        )
        for index in range(people)
    ]

    def score(index: int, round_no: int) -> int:
        # Each round changes every answer, so each follow-up run has tasks to make,
        # withdraw or reopen: its transactions read, then write.
        return (index + 3 * round_no) % 11

    env = {**prefect_env, "CXOPS_BATCH_SIZE": "20", "CXOPS_DATABASE_URL": store_url}
    commands: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def command(args: list[str]) -> None:
        result = run_cxops(args, cwd=project.root, env=env, expect_pass=None, timeout=600)
        commands.append((" ".join(args), result.exit_code, result.stderr))

    def followups_until_stopped() -> None:
        while not stop.is_set():
            command(["followups"])

    # Reminders run as four days later (the wave's invitations are due one by one as
    # they go out): a third writer that reads the ledger and answers as it writes.
    later = (settings.clock() + timedelta(days=4)).isoformat()

    def reminders_until_stopped() -> None:
        while not stop.is_set():
            result = run_cxops(
                ["remind", "nps-quarterly"],
                cwd=project.root,
                env={**env, "CXOPS_NOW": later},
                expect_pass=None,
                timeout=600,
            )
            commands.append(("remind nps-quarterly", result.exit_code, result.stderr))

    wave = threading.Thread(target=command, args=(["run", "nps-quarterly"],))
    followups = [threading.Thread(target=followups_until_stopped) for _ in range(2)]
    followups.append(threading.Thread(target=reminders_until_stopped))
    statuses: list[int] = []
    try:
        with serving(create_app(settings, store=store)) as base:
            for thread in [wave, *followups]:
                thread.start()
            rounds = 0
            # Answer (and change every answer) until the wave is done, at least 3 times.
            while rounds < 3 or wave.is_alive():
                for start in range(0, people, 40):
                    posts = [
                        (invitations[i].answer_path, score(i, rounds))
                        for i in range(start, min(start + 40, people))
                    ]
                    statuses += asyncio.run(post_answers(base, posts))
                    statuses.append(httpx.get(f"{base}/healthz", timeout=60).status_code)
                    time.sleep(0.2)
                rounds += 1
            stop.set()
            for thread in followups:
                thread.join(timeout=600)
            wave.join(timeout=600)
        command(["followups"])  # the answers of the last pass, after every writer stopped
        last_round = run_cxops(
            ["remind", "nps-quarterly"], cwd=project.root, env={**env, "CXOPS_NOW": later}
        )
        assert last_round.exit_code == 0
        with store.session() as session:
            answers = dict(session.execute(select(Response.send_id, Response.answers)).all())
            tasks = session.execute(select(Task.contact_key, Task.rule_id, Task.status)).all()
            wave_statuses = session.execute(
                select(Send.status, func.count())
                .where(Send.wave_id != "answers", Send.step == 0)
                .group_by(Send.status)
            ).all()
            reminded = session.execute(
                select(Send.contact_key, Send.status).where(Send.step == 1)
            ).all()
    finally:
        stop.set()
        store.dispose()
    failed = [(args, code, err[-500:]) for args, code, err in commands if code != 0]
    assert failed == [], failed
    assert not any("locked" in err for _, _, err in commands)
    assert len(commands) >= 4, "the follow-ups ran while the others wrote"
    assert set(statuses) == {200}, sorted(set(statuses))
    last = [score(i, rounds - 1) for i in range(people)]
    assert {send: row["score"] for send, row in answers.items()} == {
        inv.send_id: last[i] for i, inv in enumerate(invitations)
    }
    assert dict(wave_statuses) == {"sent": 300}
    assert any(args.startswith("remind") for args, _, _ in commands), "reminders ran meanwhile"
    assert {status for _, status in reminded} <= {"sent"}
    recipients = [
        m["To"]
        for path in sorted((project.root / "outbox").rglob("reminder1-*.mbox"))
        for m in mailbox.mbox(path)
    ]
    assert len(recipients) == len(set(recipients)) == len(reminded), "one reminder each"
    # Everyone of the wave is reminded once in the end; all who answered (every one of the
    # other invitations) never.
    assert len(reminded) == 300 and not {c for c, _ in reminded} & {f"a{i}" for i in range(people)}
    pairs = [(contact, rule) for contact, rule, _ in tasks]
    assert len(pairs) == len(set(pairs)), "one task per answer and rule, never two"
    expected = {f"a{i}" for i, s in enumerate(last) if s <= 6 or (s >= 9 and i % 2 == 0)}
    assert {contact for contact, _, status in tasks if status == "open"} == expected
    assert len(tasks) > len(expected), "answers changed under the follow-ups (tasks withdrawn)"
