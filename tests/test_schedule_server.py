"""Against a real Prefect server (on PostgreSQL) with real process workers.

One server for the module: `cxops deploy`, `prefect deploy --all`, `prefect deployment ls`
and `flow-run ls`, two `prefect worker start --pool cxops` workers running triggered waves
of different surveys and of the same survey at once (the store on PostgreSQL, the ledger
checked there), an interval schedule firing by itself, and a server log with no ERROR.
"""

from __future__ import annotations

import mailbox
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cxops.schedule.env import QUIET_DEFAULTS
from cxops.schedule.processes import (
    Child,
    prefect_bin,
    prefect_server_env,
    start_child,
    start_prefect_server,
)
from cxops.testing import (
    DEFAULT_NOW,
    POSTGRES_ADMIN_URL,
    copy_example_project,
    postgres_available,
    require_service,
    run_cxops,
)

REPO_ROOT = Path(__file__).resolve().parents[1]  # the example project of this repository

pytestmark = [
    pytest.mark.prefect,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(900),
]

PULSE = "pulse-csat"  # a survey every minute: its schedule must fire during the test


@dataclass
class Cluster:
    url: str
    server: Child
    project: Path
    env: dict[str, str]
    workers: list[Child]
    store_url: str

    def prefect(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "COLUMNS": "200"}
        return subprocess.run(
            [prefect_bin(), *args],
            cwd=self.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def cxops(self, *args: str) -> Any:
        env = {**self.env, "CXOPS_PROJECT_DIR": str(self.project)}
        return run_cxops([*args, "--json"], cwd=self.project, env=env).json


def _clean_env() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CXOPS_", "PREFECT_")) or name == "CXOPS_TEST_POSTGRES_URL"
    }
    env.update(QUIET_DEFAULTS)
    return env


def _database(name: str) -> str:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_ADMIN_URL.rpartition("/")[0] + f"/{name}"


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_service(postgres_available(), f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    require_service(shutil.which(prefect_bin()) is not None, "the `prefect` command is missing")
    root = tmp_path_factory.mktemp("scheduled")
    project = root / "project"
    project.mkdir()
    copy_example_project(REPO_ROOT, project)
    pulse = (REPO_ROOT / "surveys" / "csat-support.yaml").read_text()
    pulse = pulse.replace("id: csat-support", f"id: {PULSE}").replace(
        "interval: 1h", "interval: 1m"
    )
    (project / "surveys" / f"{PULSE}.yaml").write_text(pulse)
    suffix = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    prefect_db, store_db = f"cxops_prefect_{suffix}", f"cxops_store_{suffix}"
    server_url = _database(prefect_db).replace("postgresql+psycopg://", "postgresql+asyncpg://")
    store_url = _database(store_db)
    home = root / "prefect-home"
    server_env = prefect_server_env(home, _clean_env(), database_url=server_url, ui=False)
    server, url = start_prefect_server(
        home, env=server_env, log_path=root / "server.log", timeout=300
    )
    env = {
        **_clean_env(),
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": url,
        "CXOPS_DATABASE_URL": store_url,
        "CXOPS_NOW": DEFAULT_NOW,
        "CXOPS_CONTACT_CAP": "none",  # surveys of the same people run at once here
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
    }
    made = Cluster(url, server, project, env, [], store_url)
    try:
        yield made
    finally:
        for worker in made.workers:
            worker.stop()
        server.stop()
        _drop(prefect_db)
        _drop(store_db)


def _wait_for_runs(cluster: Cluster, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {i: cluster.api("GET", f"/flow_runs/{i}") for i in ids}
        if all(run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED"} for run in runs.values()):
            return runs
        if time.monotonic() > deadline:
            states = {i: run["state"]["type"] for i, run in runs.items()}
            logs = "\n".join(w.log_text()[-3000:] for w in cluster.workers)
            raise AssertionError(f"flow runs not finished in {timeout} s: {states}\n{logs}")
        time.sleep(1)


def _trigger(cluster: Cluster, name: str) -> str:
    deployment = cluster.api("GET", f"/deployments/name/{name}")
    run = cluster.api("POST", f"/deployments/{deployment['id']}/create_flow_run", json={})
    return str(run["id"])


def test_cxops_deploy_then_prefect_deploy_all_creates_every_deployment(cluster):
    names = cluster.cxops("deploy")["deployments"]
    assert PULSE in names and "followups" in names and "digest" in names
    assert f"report-{PULSE}" in names
    pool = cluster.prefect("work-pool", "create", "cxops", "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deployed = cluster.prefect("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    # Only the pulse survey's schedule runs here: the loops that fire every minute
    # (send-due, webhooks) would keep both workers busy with runs no test looks at.
    # Paused before any worker starts; the tests below start their runs by hand.
    for deployment in cluster.api("POST", "/deployments/filter", json={}):
        if deployment["name"] != PULSE:
            cluster.api("POST", f"/deployments/{deployment['id']}/pause_deployment")
    for index in range(2):  # two workers, one flow run at a time each
        cluster.workers.append(
            start_child(
                f"worker {index}",
                [
                    prefect_bin(),
                    "worker",
                    "start",
                    "--pool",
                    "cxops",
                    "--type",
                    "process",
                    "--limit",
                    "1",
                    "--name",
                    f"cxops-test-{index}",
                ],
                log_path=cluster.project.parent / f"worker-{index}.log",
                env=cluster.env,
                cwd=cluster.project.parent,
            )
        )
    listed = cluster.prefect("deployment", "ls")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    made = {d["name"] for d in cluster.api("POST", "/deployments/filter", json={})}
    assert made == set(names)
    runs = cluster.prefect("flow-run", "ls")
    assert runs.returncode == 0, runs.stdout + runs.stderr


def test_two_workers_run_waves_of_one_survey_and_of_others_at_once(cluster):
    expected = {
        survey: cluster.cxops("plan", survey)["sampled"]
        for survey in ("nps-quarterly", "ces-onboarding")
    }
    ids = [
        _trigger(cluster, "survey-wave/nps-quarterly"),
        _trigger(cluster, "survey-wave/nps-quarterly"),
        _trigger(cluster, "survey-wave/ces-onboarding"),
    ]
    runs = _wait_for_runs(cluster, ids, timeout=420)
    assert {run["state"]["type"] for run in runs.values()} == {"COMPLETED"}, runs

    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.store_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT survey_id, status, count(*), count(DISTINCT contact_key) FROM sends "
                "GROUP BY survey_id, status"
            )
        ).all()
    engine.dispose()
    by_survey = {(survey, status): (count, distinct) for survey, status, count, distinct in rows}
    for survey, sampled in expected.items():
        assert by_survey[(survey, "sent")] == (sampled, sampled), by_survey
        assert not any(key[0] == survey and key[1] != "sent" for key in by_survey), by_survey
    messages = [
        m
        for path in (cluster.project / "outbox" / "nps-quarterly").rglob("*.mbox")
        for m in mailbox.mbox(path)
    ]
    assert len(messages) == expected["nps-quarterly"]  # two runs of one wave: nobody twice
    assert len({m["X-Cxops-Send-Id"] for m in messages}) == len(messages)
    logs = [w.log_text() for w in cluster.workers]
    assert all(any(i in log for i in ids) for log in logs), "both workers ran a wave"


def _artifacts_of_a_run(cluster: Cluster, deployment: str, key: str) -> list[dict[str, Any]]:
    """Trigger `deployment`, wait for a worker to complete it; the artifacts under `key`."""
    (run,) = _wait_for_runs(cluster, [_trigger(cluster, deployment)], timeout=300).values()
    assert run["state"]["type"] == "COMPLETED", run
    query = {"artifacts": {"key": {"any_": [key]}}, "limit": 5}
    found: list[dict[str, Any]] = cluster.api("POST", "/artifacts/filter", json=query)
    return found


def test_a_worker_runs_a_survey_report_deployment(cluster):
    found = _artifacts_of_a_run(
        cluster, "survey-report/report-nps-quarterly", "report-nps-quarterly"
    )
    assert found and found[0]["data"].startswith("# Quarterly relationship NPS"), found


def test_a_worker_runs_the_reminders_deployment(cluster):
    """After the waves above: a reminder round of every survey that sends reminders, on a
    worker (the clock is the waves' own, so nobody is due yet: all of them wait)."""
    found = _artifacts_of_a_run(cluster, "reminders/reminders", "reminders-nps-quarterly")
    assert found, "the round published its artifact"
    text = found[0]["data"]
    assert text.startswith("# Reminders of `nps-quarterly`") and "due 0 · sent 0" in text, text
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql

    engine = create_engine(cluster.store_url)
    with engine.connect() as conn:
        invited = conn.scalar(
            sql(
                "SELECT count(*) FROM sends WHERE survey_id = 'nps-quarterly' AND step = 0 AND status = 'sent'"
            )
        )
    engine.dispose()
    assert invited and f"waiting {invited}" in text, (invited, text)


def test_an_interval_schedule_fires_by_itself(cluster):
    deployment = cluster.api("GET", f"/deployments/name/survey-wave/{PULSE}")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        runs = cluster.api(
            "POST",
            "/flow_runs/filter",
            json={
                "deployments": {"id": {"any_": [deployment["id"]]}},
                "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
            },
        )
        if runs:
            assert runs[0]["auto_scheduled"] is True
            break
        time.sleep(2)
    else:
        raise AssertionError("the one-minute schedule did not fire within 240 s")
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.store_url)
    with engine.connect() as conn:
        sent = conn.execute(
            text("SELECT count(*) FROM sends WHERE survey_id = :s AND status = 'sent'"),
            {"s": PULSE},
        ).scalar_one()
    engine.dispose()
    assert sent > 0


def test_the_server_log_has_no_error_line(cluster):
    log = cluster.server.log_text()
    assert "Check out the dashboard" in log or "View the API reference" in log, log[-2000:]
    errors = [line for line in log.splitlines() if "ERROR" in line or "Traceback" in line]
    assert errors == [], "\n".join(errors[:20])
