"""`cxops send-due` through the real CLI and Prefect, with the clock set:

- a dry run says what is due and writes nothing; a run sends every due row of every
  survey once, leaves the waiting, and `status` says how many wait and until when;
- two `cxops send-due` at once (SQLite and PostgreSQL) claim disjoint rows: every row
  sent once, one message per row;
- a `send-due` killed with SIGKILL at seeded points, then run again: nobody sent twice,
  at most the batch in flight in doubt (not resent), everyone else sent.
"""

from __future__ import annotations

import mailbox
import os
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from cxops.spec import find_survey
from cxops.store.db import open_store
from cxops.store.models import Send
from cxops.testing.project import kill_cxops_once, run_cxops_at_once
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave

START = datetime.fromisoformat("2026-10-01T09:00:00+00:00")
NOW = START + timedelta(days=1)
SURVEYS = ("nps-quarterly", "ces-onboarding")


def planned(project: Any, store_url: str, *, waiting: int = 0) -> int:
    """Wave w1 of two surveys planned at START, not sent: each row due at a moment of the
    24 hours before NOW, except the first `waiting` rows, due over the next day. How many
    rows are due at NOW."""
    settings = project.settings(now=START, database_url=store_url, contact_cap="none")
    store = open_store(store_url)
    draw = random.Random(0)
    try:
        for survey_id in SURVEYS:
            survey = find_survey(survey_id, project.root / "surveys", project.root)
            prepare_wave(store, WaveContext.begin(survey, settings, "w1"))
        with store.session() as session:
            ids = list(session.scalars(select(Send.id).order_by(Send.id)))
        with store.connect(write=True) as conn:
            for index, row_id in enumerate(ids):
                later = index < waiting
                moment = (NOW if later else START) + timedelta(minutes=draw.randrange(1, 1440))
                conn.execute(
                    update(Send).where(Send.id == row_id).values(not_before=moment, held="window")
                )
    finally:
        store.dispose()
    return len(ids) - waiting


def statuses(store_url: str) -> Counter[str]:
    store = open_store(store_url)
    try:
        with store.session() as session:
            found = session.execute(select(Send.status, func.count()).group_by(Send.status)).all()
    finally:
        store.dispose()
    return Counter({status: count for status, count in found})


def recipients(project: Any) -> list[tuple[str, str]]:
    """(survey, To) of every message in the outbox."""
    found = []
    for survey_id in SURVEYS:
        for path in sorted((project.root / "outbox" / survey_id).glob("**/*.mbox")):
            found += [(survey_id, message["To"]) for message in mailbox.mbox(path)]
    return found


def env_for(prefect_env: dict[str, str], store_url: str, **more: str) -> dict[str, str]:
    return {
        **prefect_env,
        "CXOPS_DATABASE_URL": store_url,
        "CXOPS_NOW": NOW.isoformat(),
        "CXOPS_BATCH_SIZE": "10",
        # Claims and doubt are the subject, not the contact policy: the two surveys share
        # people, and the cap would hold the second invitation of each (a gate at claim).
        "CXOPS_CONTACT_CAP": "none",
        **more,
    }


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_send_due_from_the_terminal(project: Any, prefect_env: dict[str, str], store_url: str):
    due = planned(project, store_url, waiting=25)
    env = env_for(prefect_env, store_url)
    dry = project.run(["send-due", "--dry-run", "--json"], env=env).json
    assert (dry["dry_run"], dry["due"], dry["sent"]) == (True, due, 0)
    assert sorted(step["survey"] for step in dry["steps"]) == sorted(SURVEYS)
    assert dry["waiting"]["count"] == 25 and statuses(store_url) == Counter({"pending": due + 25})

    sent = project.run(["send-due", "--json"], env=env).json
    assert (sent["due"], sent["sent"], sent["in_doubt"], sent["failed"]) == (due, due, 0, 0)
    assert statuses(store_url) == Counter({"sent": due, "pending": 25})
    assert sent["waiting"]["count"] == 25 and sent["waiting"]["earliest"] > NOW.isoformat()
    assert len(recipients(project)) == due

    status = project.run(["status", "--json"], env=env).json
    assert sum(row["count"] for row in status["waiting"]) == 25
    assert {row["held"] for row in status["waiting"]} == {"window"}
    assert max(row["latest"] for row in status["waiting"]) == sent["waiting"]["latest"]
    text = project.run(["status"], env=env).stdout
    assert "waiting " in text and " until " in text

    again = project.run(["send-due"], env=env).stdout
    assert "nothing is due" in again and "waiting 25" in again
    later = env_for(prefect_env, store_url, CXOPS_NOW=(NOW + timedelta(days=1)).isoformat())
    rest = project.run(["send-due", "--json"], env=later).json
    assert rest["sent"] == 25 and rest["waiting"]["count"] == 0
    found = recipients(project)
    assert len(found) == len(set(found)) == due + 25


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_send_due_at_once_never_send_twice(
    project: Any, prefect_env: dict[str, str], store_url: str
):
    due = planned(project, store_url)
    runs = run_cxops_at_once(
        ["send-due", "--json"], cwd=project.root, env=env_for(prefect_env, store_url)
    )
    assert [r.exit_code for r in runs] == [0, 0], [r.output for r in runs]
    assert statuses(store_url) == Counter({"sent": due})
    # Each run reports what its own claims sent: together, every row once.
    assert sum(r.json["sent"] for r in runs) == due
    found = recipients(project)
    assert len(found) == len(set(found)) == due


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("store_url", "seed"), [("sqlite", 1), ("sqlite", 3), ("postgresql", 2)], indirect=["store_url"]
)
def test_send_due_killed_then_resumed_sends_nobody_twice(
    project: Any, prefect_env: dict[str, str], store_url: str, seed: int
):
    due = planned(project, store_url)
    kill_after = random.Random(seed).randint(10, due - 50)  # sent when SIGKILL comes
    env = {**os.environ, **env_for(prefect_env, store_url)}
    kill_cxops_once(
        ["send-due"],
        project.root,
        env,
        lambda: statuses(store_url)["sent"],
        kill_after,
        what="send-due",
    )
    killed = statuses(store_url)
    assert killed["sent"] < due

    resumed = project.run(["send-due", "--json"], env=env_for(prefect_env, store_url)).json
    rows = statuses(store_url)
    assert rows["in_doubt"] <= 10  # at most the batch in flight, and not resent
    assert rows["sent"] + rows["in_doubt"] == due and rows["pending"] == 0
    assert resumed["sent"] == rows["sent"] - killed["sent"]
    found = recipients(project)
    assert len(found) == len(set(found)), "someone was sent twice"
    assert rows["sent"] <= len(found) <= due


def test_up_serves_send_due_every_minute(project: Any) -> None:
    """`cxops up`'s Runner serves what `cxops deploy` writes: `send-due`, every minute."""
    from cxops.schedule.serving import runner_deployments

    served = {deployment.name: deployment for deployment in runner_deployments(project.root)}
    send_due = served["send-due"]
    assert send_due.parameters == {"project_dir": str(project.root)}
    (schedule,) = send_due.schedules
    assert schedule.schedule.interval == timedelta(seconds=60)
