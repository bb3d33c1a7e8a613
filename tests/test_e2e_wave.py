"""`cxops run` end to end: the real CLI, Prefect flow runs, the outbox and SendGrid."""

from __future__ import annotations

import mailbox
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from cxops.store.models import Send
from cxops.testing.project import run_cxops_at_once
from cxops.testing.sendgrid_server import Fault, running_sendgrid_server

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

KEY = "SG.e2e-test-key"


def _outbox(root: Path) -> list:
    return [m for path in sorted(root.rglob("*.mbox")) for m in mailbox.mbox(path)]


def test_run_sends_a_wave_into_the_outbox_and_a_rerun_resumes(project, prefect_env):
    result = project.run(["run", "nps-quarterly", "--json"], env=prefect_env)
    summary = result.json
    assert summary["survey"] == "nps-quarterly" and summary["wave"] == "2026-10-01T0900"
    assert (summary["sampled"], summary["sent"], summary["failed"], summary["in_doubt"]) == (
        300,
        300,
        0,
        0,
    )
    assert summary["audience"] == 600 and summary["bad_rows"]  # bad rows listed, not fatal
    assert {"row", "key", "reason"} <= set(summary["bad_rows"][0])
    messages = _outbox(project.root / "outbox" / "nps-quarterly" / summary["wave"])
    assert len(messages) == 300
    assert len({m["X-Cxops-Send-Id"] for m in messages}) == 300

    from cxops.store import waves
    from cxops.store.db import open_store

    store = open_store(f"sqlite:///{project.root / 'cxops.db'}")
    wave_row = waves.get_wave(store, "nps-quarterly", summary["wave"])
    store.dispose()
    assert wave_row.status == "complete" and wave_row.finished_at is not None

    again = project.run(["run", "nps-quarterly", "--json"], env=prefect_env).json
    assert again["sent"] == 300
    assert any("resumed" in note for note in again["notes"])
    assert len(_outbox(project.root / "outbox")) == 300

    human = project.run(["run", "nps-quarterly"], env=prefect_env).stdout
    assert "sent 300" in human and "enterprise" in human

    # the flow runs are tagged, and the summary is published as a markdown artifact
    import httpx

    api = prefect_env["PREFECT_API_URL"]
    runs = httpx.post(
        f"{api}/flow_runs/filter",
        json={"flow_runs": {"tags": {"all_": ["survey:nps-quarterly"]}}, "limit": 50},
    ).json()
    artifacts = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"key": {"any_": ["wave-summary-nps-quarterly"]}}, "limit": 10},
    ).json()
    assert len(runs) >= 3 and all("kind:nps" in run["tags"] for run in runs)
    assert artifacts and "| enterprise |" in artifacts[0]["data"]


def test_dry_run_renders_without_storing_or_sending(project, prefect_env):
    summary = project.run(["run", "csat-support", "--dry-run", "--json"], env=prefect_env).json
    assert summary["dry_run"] is True and summary["rendered"] == summary["sampled"] > 0
    assert summary["sent"] == 0
    assert not (project.root / "cxops.db").exists()
    assert not (project.root / "outbox").exists()


def test_a_broken_survey_fails_with_its_location(project, prefect_env):
    project.write({"surveys/broken.yaml": "id: broken\nname: x\nkind: nps\nbogus: 1\n"})
    result = project.run(["run", "surveys/broken.yaml"], expect_pass=False, env=prefect_env)
    assert "broken.yaml:" in result.stderr and "Traceback" not in result.stderr


def _sendgrid_env(prefect_env: dict[str, str], url: str, **extra: str) -> dict[str, str]:
    return {
        **prefect_env,
        "CXOPS_CHANNEL": "sendgrid",
        "CXOPS_SENDGRID_API_KEY": KEY,
        "CXOPS_SENDGRID_API_URL": url,
        **extra,
    }


def test_sendgrid_wave_survives_429_and_500_and_packs_personalizations(project, prefect_env):
    faults = [Fault.throttle(retry_after=1, times=1), Fault.server_error(times=1)]
    with running_sendgrid_server(api_key=KEY, faults=faults) as server:
        env = _sendgrid_env(prefect_env, server.url)
        summary = project.run(["run", "nps-quarterly", "--json"], env=env).json
        delivered = server.messages()
        requests = len(server.accepted)
    assert summary["sent"] == 300 and summary["failed"] == 0
    per_person = Counter(m.to_email for m in delivered)
    assert len(per_person) == 300 and max(per_person.values()) == 1
    assert all(m.custom_args["survey"] == "nps-quarterly" for m in delivered)
    assert all(
        m.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in delivered
    )
    # 300 recipients in one batch: at most a request per locale group, never one per person
    assert requests <= 6
    assert KEY not in summary.__repr__()


def test_a_refused_batch_fails_with_sendgrids_message(project, prefect_env):
    faults = [Fault.bad_request("The from address does not match a verified Sender", "from")]
    with running_sendgrid_server(api_key=KEY, faults=faults) as server:
        env = _sendgrid_env(prefect_env, server.url, CXOPS_BATCH_SIZE="1000")
        result = project.run(["run", "ces-onboarding", "--json"], env=env)
    summary = result.json
    assert summary["failed"] > 0
    assert "verified Sender" in " ".join(summary["failed_reasons"])


def _sent_count(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Send).where(Send.status == "sent"))
    except Exception:
        return 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_mid_wave_then_resume_sends_nobody_twice(project, prefect_env, seed):
    """Invariant: a wave SIGKILLed at a seeded point (after 10 to 250 of 300 sent, then a
    moment more: while a request is in flight or being recorded), then run again, invites
    nobody twice and leaves at most the batches in flight in doubt."""
    chance = random.Random(seed)
    kill_after, extra = chance.randint(10, 250), chance.uniform(0, 0.2)
    db_url = f"sqlite:///{project.root / 'cxops.db'}"
    # slow answers make the wave take long enough to be killed in the middle
    with running_sendgrid_server(api_key=KEY, faults=[Fault.slow(0.2, times=1000)]) as server:
        env = {
            **os.environ,
            **_sendgrid_env(prefect_env, server.url, CXOPS_BATCH_SIZE="10"),
            "CXOPS_PROJECT_DIR": str(project.root),
        }
        victim = subprocess.Popen(
            [sys.executable, "-m", "cxops", "run", "nps-quarterly"],
            cwd=project.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 180
        while _sent_count(db_url) < kill_after and time.monotonic() < deadline:
            assert victim.poll() is None, "the wave ended before it could be killed"
            time.sleep(0.05)
        time.sleep(extra)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert kill_after <= _sent_count(db_url) < 300, "the wave was not killed in the middle"
        killed_at = len(server.messages())

        server.faults.clear()
        resumed = project.run(["run", "nps-quarterly", "--json"], env=env).json
        delivered = server.messages()
    per_person = Counter(m.to_email for m in delivered)
    assert max(per_person.values()) == 1, "somebody was invited twice"
    # everyone is sent or reported in doubt: at most the two batches in flight (2 x 10)
    assert resumed["sent"] + resumed["in_doubt"] == 300
    assert 0 < resumed["in_doubt"] <= 2 * 10 or resumed["in_doubt"] == 0
    # every row marked sent reached SendGrid; in-doubt ones may or may not have
    assert resumed["sent"] <= len(per_person) <= resumed["sent"] + resumed["in_doubt"]
    assert len(delivered) > killed_at


@pytest.mark.postgres
def test_two_concurrent_runs_of_one_wave_on_postgresql_send_each_message_once(
    project, prefect_env, postgres_url
):
    # slow answers keep both runs busy long enough to overlap
    with running_sendgrid_server(api_key=KEY, faults=[Fault.slow(0.5, times=1000)]) as server:
        env = {
            **_sendgrid_env(prefect_env, server.url, CXOPS_BATCH_SIZE="10"),
            "CXOPS_DATABASE_URL": postgres_url,
            "CXOPS_PROJECT_DIR": str(project.root),
        }
        runs = run_cxops_at_once(
            ["run", "nps-quarterly", "--json"], cwd=project.root, env=env, timeout=300
        )
        delivered = server.messages()
    for run in runs:
        assert run.exit_code == 0, run.stderr[-2000:]
        # neither reports the other's batch in flight as in doubt
        assert run.json["in_doubt"] == 0, run.stdout
    per_person = Counter(m.to_email for m in delivered)
    assert len(per_person) == 300 and max(per_person.values()) == 1
    # both runs really sent part of the wave (claims are shared, not serialized away)
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        claims = conn.execute(select(Send.claim_id).where(Send.status == "sent")).scalars().all()
    engine.dispose()
    processes = Counter(claim.split(":")[1] for claim in claims)
    assert len(processes) == 2 and sum(processes.values()) == 300


def test_a_misconfigured_channel_fails_fast_and_stores_nothing(project):
    # no Prefect API needed: the channel is checked before any flow run starts
    result = project.run(
        ["run", "csat-support"], expect_pass=False, env={"CXOPS_CHANNEL": "sendgrid"}
    )
    assert result.stderr.strip() == (
        "error: the sendgrid channel needs an API key: set CXOPS_SENDGRID_API_KEY"
    )
    assert not (project.root / "cxops.db").exists()
