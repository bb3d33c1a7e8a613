"""CXOPS_TASK_RUNNER: a wave's batches on a real Dask cluster (prefect-dask), or one clear line."""

from __future__ import annotations

import importlib.util
import mailbox
import sys
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select

from cxops.errors import ConfigError
from cxops.spec import find_survey
from cxops.store.models import Send
from cxops.testing import Project, require_service


def _dask_installed() -> bool:
    return importlib.util.find_spec("prefect_dask") is not None


@pytest.mark.prefect
@pytest.mark.slow
def test_a_wave_on_a_dask_cluster_sends_every_contact_exactly_once(
    project: Project, prefect_env: dict[str, str]
) -> None:
    require_service(_dask_installed(), "prefect-dask is not installed (the cxops[dask] extra)")
    from distributed import LocalCluster

    from cxops.wave.run import run_wave

    # Threads in this process, but a real scheduler: every task and its arguments go
    # through Dask (pickled), as they would to workers on other machines.
    with LocalCluster(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        settings = project.settings(task_runner=f"dask:{cluster.scheduler_address}", batch_size=25)
        survey = find_survey("nps-quarterly", settings.surveys_path, settings.project_dir)
        summary = run_wave(survey, settings)
        ran = {prefix: n for prefix, n in _task_prefixes(cluster).items() if n}

    assert summary.sent == summary.sampled == 300 and summary.failed == summary.in_doubt == 0
    assert sum(n for prefix, n in ran.items() if "send" in prefix) >= 300 // 25, ran
    engine = create_engine(settings.store_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Send.contact_key, Send.status, func.count()).group_by(
                Send.contact_key, Send.status
            )
        ).all()
    engine.dispose()
    assert {status for _, status, _ in rows} == {"sent"}
    assert len(rows) == 300 and {count for _, _, count in rows} == {1}  # one row per contact
    messages = [m for path in project.path("outbox").rglob("*.mbox") for m in mailbox.mbox(path)]
    per_send = Counter(m["X-Cxops-Send-Id"] for m in messages)
    assert len(per_send) == 300 and set(per_send.values()) == {1}  # one message per contact


def _task_prefixes(cluster: object) -> dict[str, int]:
    """How many tasks of each key prefix the scheduler has run."""
    scheduler = cluster.scheduler  # type: ignore[attr-defined]
    return {
        name: sum(prefix.state_counts.values()) for name, prefix in scheduler.task_prefixes.items()
    }


def test_dask_without_prefect_dask_is_one_line_naming_the_extra(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxops.wave.flow import task_runner

    monkeypatch.setitem(sys.modules, "prefect_dask", None)  # import fails as if absent
    monkeypatch.setitem(sys.modules, "prefect_dask.task_runners", None)
    with pytest.raises(ConfigError) as raised:
        task_runner(project.settings(task_runner="dask"))
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("CXOPS_TASK_RUNNER=dask: prefect-dask is not installed")
    assert "cxops[dask]" in message
    assert task_runner(project.settings(task_runner="thread")) is None


def test_task_runner_setting_is_checked(project: Project) -> None:
    assert project.settings(task_runner="dask:tcp://127.0.0.1:8786").task_runner.endswith(":8786")
    result = project.run(
        ["plan", "nps-quarterly"], env={"CXOPS_TASK_RUNNER": "ray"}, expect_pass=False
    )
    assert result.exit_code == 1
    assert "expected thread, dask or dask:ADDRESS" in result.stdout + result.stderr
