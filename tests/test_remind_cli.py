"""`cxops remind` through the real CLI and Prefect, with the clock moved:

- a dry run says who is due and writes nothing; a round sends once, a second sends nobody;
- two `cxops remind` at once (PostgreSQL) never send one person a reminder twice;
- a round killed with SIGKILL at seeded points, then run again: nobody reminded twice, at
  most the batch in flight in doubt, everyone else reminded.
"""

from __future__ import annotations

import mailbox
import os
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cxops.channels import make_channel
from cxops.messages.render import InvitationRenderer
from cxops.spec import find_survey
from cxops.store import claims
from cxops.store.db import open_store
from cxops.store.models import Send
from cxops.testing.project import kill_cxops_once, run_cxops_at_once
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave
from cxops.wave.send import send_one_batch

SURVEY = "nps-quarterly"
START = datetime.fromisoformat("2026-10-01T09:00:00+00:00")
DUE = (START + timedelta(days=3, hours=1)).isoformat()


def invited(project: Any, store_url: str) -> None:
    """Wave q4 of the NPS survey sent at START (in process: no Prefect needed for it)."""
    settings = project.settings(now=START, database_url=store_url)
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "q4")
    store = open_store(store_url)
    channel = make_channel(settings)
    try:
        prepare_wave(store, wave)
        renderer = InvitationRenderer(survey, settings, wave_id="q4")
        claim_id = claims.new_claim_id()
        while send_one_batch(store, wave, channel, renderer, claim_id).claimed:
            pass
    finally:
        channel.close()
        store.dispose()


def step_rows(store_url: str) -> Counter[str]:
    store = open_store(store_url)
    try:
        with store.session() as session:
            found = session.execute(
                select(Send.status, func.count())
                .where(Send.survey_id == SURVEY, Send.step == 1)
                .group_by(Send.status)
            ).all()
    finally:
        store.dispose()
    return Counter({status: count for status, count in found})


def reminder_recipients(project: Any) -> list[str]:
    folder = project.root / "outbox" / SURVEY / "q4"
    return [m["To"] for p in sorted(folder.glob("reminder1-*.mbox")) for m in mailbox.mbox(p)]


@pytest.mark.prefect
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # PostgreSQL: the races below
def test_remind_from_the_terminal(project: Any, prefect_env: dict[str, str], store_url: str):
    invited(project, store_url)
    env = {**prefect_env, "CXOPS_DATABASE_URL": store_url, "CXOPS_NOW": DUE}
    dry = project.run(["remind", SURVEY, "--dry-run", "--json"], env=env).json
    assert (dry["dry_run"], dry["due"], dry["sent"]) == (True, 300, 0)
    assert dry["steps"][0]["rendered"] == 300
    assert step_rows(store_url) == Counter() and reminder_recipients(project) == []

    sent = project.run(["remind", SURVEY, "--json"], env=env).json
    assert (sent["due"], sent["sent"], sent["in_doubt"], sent["failed"]) == (300, 300, 0, 0)
    assert step_rows(store_url) == Counter({"sent": 300})
    recipients = reminder_recipients(project)
    assert len(recipients) == len(set(recipients)) == 300

    again = project.run(["remind", SURVEY], env=env).stdout
    assert "due 0 · sent 0" in again and "q4" in again
    assert len(reminder_recipients(project)) == 300

    later = {**env, "CXOPS_NOW": (START + timedelta(days=15)).isoformat()}
    closed = project.run(["remind", SURVEY, "--json"], env=later).json
    assert [(w["wave"], w["invited"], w["answered"]) for w in closed["closed"]] == [("q4", 300, 0)]
    status = project.run(["status", "--json"], env=later).json
    assert [w["wave"] for w in status["closed_waves"]] == ["q4"]


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_two_reminds_at_once_never_send_twice(project: Any, prefect_env: dict[str, str], store_url):
    invited(project, store_url)
    env = {
        **prefect_env,
        "CXOPS_DATABASE_URL": store_url,
        "CXOPS_NOW": DUE,
        "CXOPS_BATCH_SIZE": "10",
    }
    rounds = run_cxops_at_once(["remind", SURVEY, "--json"], cwd=project.root, env=env)
    assert [r.exit_code for r in rounds] == [0, 0], [r.output for r in rounds]
    assert step_rows(store_url) == Counter({"sent": 300})
    recipients = reminder_recipients(project)
    assert len(recipients) == len(set(recipients)) == 300


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("store_url", "seed"), [("sqlite", 1), ("postgresql", 2)], indirect=["store_url"]
)
def test_a_reminder_round_killed_then_resumed_reminds_nobody_twice(
    project: Any, prefect_env: dict[str, str], store_url: str, seed: int
):
    kill_after = random.Random(seed).randint(10, 200)  # reminders sent when SIGKILL comes
    invited(project, store_url)
    env = {
        **os.environ,
        **prefect_env,
        "CXOPS_DATABASE_URL": store_url,
        "CXOPS_NOW": DUE,
        "CXOPS_BATCH_SIZE": "10",
    }
    kill_cxops_once(
        ["remind", SURVEY],
        project.root,
        env,
        lambda: step_rows(store_url)["sent"],
        kill_after,
        what="the round",
    )
    killed = step_rows(store_url)
    assert killed["sent"] < 300

    resumed = project.run(
        ["remind", SURVEY, "--json"],
        env={k: env[k] for k in env if k.startswith(("CXOPS_", "PREFECT_"))},
    ).json
    rows = step_rows(store_url)
    assert rows["in_doubt"] <= 10  # at most the batch in flight
    assert rows["sent"] + rows["in_doubt"] == 300 and rows["pending"] == 0
    recipients = reminder_recipients(project)
    assert len(recipients) == len(set(recipients)), "someone was reminded twice"
    assert rows["sent"] <= len(recipients) <= 300
    assert resumed["in_doubt"] == rows["in_doubt"]
