"""The dbt package (`dbt/cxops/`) built with dbt-duckdb on a synced demo project: `dbt build`
passes its own tests, and its marts equal `cxops report --json` to the report's decimals.

One demo for the whole module (a store, a sync, one `dbt build`): dbt is run once, as a
subprocess of its own environment (`make dbt-env`: `.venv-dbt/`, see docs/dbt.md for why
it is not the project's environment)."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

import duckdb
import pytest
from sqlalchemy import select

from cxops.analysis.metrics import mean, nps, share, top_box
from cxops.analysis.report import build_from_store
from cxops.followup.apply import apply_rules
from cxops.intervals import t_quantile, z_quantile
from cxops.project import open_project
from cxops.settings import get_settings
from cxops.store.db import open_store
from cxops.store.models import Response, Suppression, Task
from cxops.store.task_events import record_event
from cxops.sync.project import sync_project
from cxops.testing.followup import add_response, at, write_survey
from cxops.testing.project import DEFAULT_NOW, copy_example_project
from cxops.testing.services import require_service

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "dbt" / "cxops"
SEGMENTS = ("enterprise", "mid", "smb")
#: wave -> when its answers came in (each wave in its own month).
WAVES = {"2026-10": at("2026-10-12T10:00:00+00:00"), "2026-11": at("2026-11-16T10:00:00+00:00")}
LATEST = "2026-11"
#: A segment of three answers in the latest wave: the report suppresses it (min_n 5).
SMALL_SEGMENT = "trial"
CSM = {"enterprise": "maria.keller@acme.example", "mid": "raj.patel@acme.example"}
CSAT_YAML = """\
id: csat-test
name: CSAT test
kind: csat
owner: owner@acme.example
schedule: {cron: "0 9 * * MON", timezone: Europe/Berlin}
audience:
  source: {csv: data/customers.csv, key: id}
questions:
  - {id: sat, type: csat, text: "How satisfied are you?"}
invitation:
  template: nps_invite
  from: "Acme Research <research@acme.example>"
"""


def dbt_executable() -> str | None:
    """dbt with dbt-duckdb: `CXOPS_TEST_DBT`, else the repository's `.venv-dbt/`, else PATH."""
    named = os.environ.get("CXOPS_TEST_DBT")
    if named:
        return named
    local = REPO / ".venv-dbt" / "bin" / "dbt"
    if local.is_file():
        return str(local)
    return shutil.which("dbt")


# -- the demo ---------------------------------------------------------------------------


def seed_store(root: Path) -> None:
    """Two waves of an NPS and a CSAT survey in three segments (and a small one), with what
    the report leaves out (suspect, unconfirmed) and follow-up tasks closed on time, late,
    withdrawn or left open."""
    write_survey(root)
    (root / "surveys" / "csat-test.yaml").write_text(CSAT_YAML, encoding="utf-8")
    settings = get_settings(project_dir=root)
    store = open_store(settings.store_url)
    rng = random.Random(24)
    try:
        for wave, when in WAVES.items():
            sizes = {segment: 14 + 5 * index for index, segment in enumerate(SEGMENTS)}
            if wave == LATEST:
                sizes[SMALL_SEGMENT] = 3
            for segment, size in sizes.items():
                for i in range(size):
                    key = f"{segment}-{wave}-{i}"
                    contact = {"csm_email": CSM.get(segment, "csm.anna@acme.example")}
                    nps = {"score": rng.choice(range(11))}
                    if i % 4 == 0:
                        nps["reason"] = "support was slow"
                    status = "partial" if i % 9 == 5 else "complete"
                    add_response(
                        store,
                        key,
                        nps,
                        when=when,
                        wave=wave,
                        segment=segment,
                        contact=contact,
                        status=status,
                    )
                    add_response(
                        store,
                        key,
                        {"sat": rng.choice(range(1, 6))},
                        when=when,
                        wave=wave,
                        segment=segment,
                        survey_id="csat-test",
                    )
                # What the report leaves out: a scanner's answer and an unconfirmed one.
                add_response(
                    store,
                    f"{segment}-{wave}-bot",
                    {"score": 0},
                    when=when,
                    wave=wave,
                    segment=segment,
                    suspect=True,
                )
                unconfirmed = add_response(
                    store,
                    f"{segment}-{wave}-click",
                    {"score": 10},
                    when=when,
                    wave=wave,
                    segment=segment,
                )
                with store.session(write=True) as session:
                    row = session.get(Response, unconfirmed)
                    assert row is not None
                    row.confirmed_at = None
            with open_project(settings) as context:
                survey = context.surveys.find("nps-test")
            apply_rules(settings, store, survey, now=when)
        with store.session(write=True) as session:
            session.add(
                Suppression(
                    email="x@customer.example",
                    reason="unsubscribed",
                    source="collector",
                    created_at=WAVES["2026-11"],
                )
            )
        close_some_tasks(store)
    finally:
        store.dispose()


def close_some_tasks(store: Any) -> None:
    """Every third task closed on time, every third late, one withdrawn; a note on some."""
    with store.session(write=True) as session:
        tasks = session.scalars(select(Task).order_by(Task.id)).all()
        for index, task in enumerate(tasks):
            assert task.due_at is not None and task.created_at is not None
            if index % 3 == 0:
                closed = task.created_at + (task.due_at - task.created_at) / 2
            elif index % 3 == 1:
                closed = task.due_at + timedelta(hours=5 + index)
            else:
                if index % 5 == 2:
                    record_event(task, "note", task.created_at + timedelta(hours=1), text="called")
                continue
            if index == 1:
                task.status, task.closed_at = "withdrawn", closed
                continue
            task.status, task.outcome, task.closed_at = "closed", "fixed", closed
            record_event(task, "closed", closed, outcome="fixed")


def sync_demo(root: Path) -> Path:
    with open_project(get_settings(project_dir=root)) as context:
        sync_project(context, "duckdb:///warehouse.duckdb")
    return root / "warehouse.duckdb"


def write_host_project(folder: Path, warehouse: Path) -> None:
    """A dbt project that installs the package the way docs/dbt.md says (a local path)."""
    folder.mkdir()
    (folder / "dbt_project.yml").write_text(
        'name: host\nversion: "1.0"\nconfig-version: 2\nprofile: host\n', encoding="utf-8"
    )
    (folder / "packages.yml").write_text(
        f"packages:\n  - local: {json.dumps(str(PACKAGE))}\n", encoding="utf-8"
    )
    (folder / "profiles.yml").write_text(
        "host:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {json.dumps(str(warehouse))}\n      schema: analytics\n      threads: 1\n",
        encoding="utf-8",
    )


def run_dbt(dbt: str, args: list[str], host: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(host),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    completed = subprocess.run(
        [dbt, *args], cwd=host, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, f"dbt {args} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed


@dataclass
class Built:
    warehouse: Path
    results: list[dict[str, Any]]
    #: survey id -> `cxops report --wave LATEST --json` of that survey.
    reports: dict[str, dict[str, Any]]
    #: (assignee, created month, status, closed on time, hours to close) of each task
    tasks: list[tuple[str, str, str, bool, float | None]]

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    dbt = dbt_executable()
    require_service(
        dbt is not None, "dbt is not installed (`make dbt-env`, or CXOPS_TEST_DBT=path/to/dbt)"
    )
    assert dbt is not None
    base = tmp_path_factory.mktemp("dbt")
    root = base / "project"
    root.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("CXOPS_") and name != "CXOPS_TEST_DBT":
                patch.delenv(name)
        patch.setenv("CXOPS_NOW", DEFAULT_NOW)
        patch.setenv("CXOPS_PREFECT_IDLE_MINUTES", "0")
        patch.setenv("CXOPS_PROJECT_DIR", str(root))
        patch.chdir(root)
        copy_example_project(REPO, root, with_surveys=False)
        seed_store(root)
        warehouse = sync_demo(root)
        host = base / "host"
        write_host_project(host, warehouse)
        run_dbt(dbt, ["deps"], host)
        run_dbt(dbt, ["build"], host)
        results = json.loads((host / "target" / "run_results.json").read_text(encoding="utf-8"))
        settings = get_settings(project_dir=root)
        with open_project(settings) as context:
            reports = {
                survey_id: build_from_store(
                    context.surveys.find(survey_id), settings, wave=LATEST
                ).document()
                for survey_id in ("nps-test", "csat-test")
            }
        yield Built(warehouse, results["results"], reports, store_tasks(settings.store_url))


def store_tasks(store_url: str) -> list[tuple[str, str, str, bool, float | None]]:
    """(assignee, created month, status, closed on time, hours to close) of each task."""
    store = open_store(store_url)
    try:
        with store.session() as session:
            found = []
            for task in session.scalars(select(Task)):
                closed = task.status == "closed" and task.closed_at is not None
                hours = (
                    (task.closed_at - task.created_at).total_seconds() / 3600 if closed else None
                )
                on_time = closed and task.due_at is not None and task.closed_at <= task.due_at
                found.append(
                    (task.assignee, task.created_at.strftime("%Y-%m"), task.status, on_time, hours)
                )
            return found
    finally:
        store.dispose()


# -- the tests --------------------------------------------------------------------------


def test_dbt_build_runs_every_model_seed_and_test_and_they_pass(built):
    by_type: dict[str, set[str]] = {}
    for result in built.results:
        assert result["status"] in ("success", "pass"), result
        kind, _, name = result["unique_id"].partition(".")
        by_type.setdefault(kind, set()).add(name.removeprefix("cxops."))
    assert {"stg_cxops__responses", "cxops_scores_by_wave", "cxops_loop_by_assignee"} <= by_type[
        "model"
    ]
    assert by_type["seed"] == {"cxops_t_quantiles"}
    tests = " ".join(by_type["test"])
    for expected in (
        "cxops_nps_categories_add_up",
        "cxops_source_keys_are_unique",
        "relationships_cxops_responses_send_id",
        "accepted_values_cxops_tasks_status",
    ):
        assert expected in tests
    assert len(by_type["test"]) >= 40


def rounded(value: float | None, digits: int) -> float | None:
    """The report's rounding (cxops.analysis.metrics: Python's round, no inf/nan)."""
    if value is None or math.isinf(value) or math.isnan(value):
        return None
    return round(value, digits)


def figure(row: dict[str, Any], name: str, digits: int = 1, ci: str = "") -> dict[str, Any]:
    """A mart row's figure `name` (its interval `ci`_ci_low/high, default `name`'s) in the
    report's shape and rounding."""
    if row["suppressed"]:
        return {"suppressed": True, "n": row["n"]}
    low, high = row[f"{ci or name}_ci_low"], row[f"{ci or name}_ci_high"]
    ci = None if low is None else [rounded(low, 2), rounded(high, 2)]
    return {"value": rounded(row[name], digits), "ci": ci, "n": row["n"]}


def report_segments(built: Built, survey_id: str, question: str) -> dict[str, dict[str, Any]]:
    segments = built.reports[survey_id]["by_segment"]
    found: dict[str, dict[str, Any]] = {}
    for name, group in segments.items():
        figures = group.get("questions", {}).get(question, {})
        if group.get("complementary") or figures.get("complementary"):
            # Hidden by the report to protect a smaller segment (complementary
            # suppression, a rule of shared outputs); the mart keeps min-n only.
            found[name] = {"complementary": True, "n": group["n"]}
        elif group.get("suppressed"):
            found[name] = {"suppressed": True, "n": group["n"]}
        else:
            found[name] = figures["metrics"]
    return found


def shown_in_both(
    rows: list[dict[str, Any]], report: dict[str, dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The mart rows whose segment the report shows, with the report's figures; a segment
    suppressed in both, or hidden by the report alone (complementary), is checked here
    by its size. At least two segments are left to compare figure by figure."""
    shown = []
    for row in rows:
        expected = report[row["segment"]]
        if expected.get("complementary"):
            assert not row["suppressed"] and row["n"] == expected["n"]
        elif row["suppressed"]:
            assert expected == {"suppressed": True, "n": row["n"]}
        else:
            shown.append((row, expected))
    assert len(shown) >= 2
    return shown


@pytest.mark.parametrize("mart", ["by_wave", "by_month"])
def test_nps_by_segment_equals_the_report_to_the_decimal(built, mart):
    where = "wave_id = '2026-11'" if mart == "by_wave" else "answered_month = DATE '2026-11-01'"
    rows = built.rows(
        f"SELECT * FROM analytics.cxops_scores_{mart} WHERE survey_id = 'nps-test' AND {where}"
    )
    report = report_segments(built, "nps-test", "score")
    assert {row["segment"] for row in rows} == set(report) == {*SEGMENTS, "trial"}
    for row, expected in shown_in_both(rows, report):
        assert figure(row, "nps") == expected["nps"]
        assert figure(row, "mean", 2) == expected["mean"]
        shares = {k: expected[k]["value"] for k in ("promoters", "passives", "detractors")}
        assert shares == {k: rounded(100 * row[k] / row["n"], 1) for k in shares}


def test_csat_satisfied_and_mean_by_segment_equal_the_report(built):
    rows = built.rows(
        "SELECT * FROM analytics.cxops_scores_by_wave "
        "WHERE survey_id = 'csat-test' AND wave_id = '2026-11'"
    )
    report = report_segments(built, "csat-test", "sat")
    assert {row["segment"] for row in rows} == set(report)
    for row, expected in shown_in_both(rows, report):
        assert figure(row, "top_box_pct", ci="top_box") == expected["satisfied"]
        assert figure(row, "mean", 2) == expected["mean"]


def test_every_mart_figure_is_the_report_metric_to_the_bit(built):
    """Beyond the report's decimals: the SQL is the Python arithmetic in the same order, so
    each unrounded figure of every group is the very double `cxops.analysis.metrics`
    computes from the same tally."""
    tallies: dict[tuple[str, str, str], Counter[int]] = {}
    kinds = {}
    for row in built.rows("SELECT * FROM analytics.cxops_scored_answers"):
        key = (row["survey_id"], row["wave_id"], row["segment"])
        tallies.setdefault(key, Counter())[row["score"]] += 1
        kinds[key] = row["kind"]
    marts = built.rows("SELECT * FROM analytics.cxops_scores_by_wave")
    assert {(r["survey_id"], r["wave_id"], r["segment"]) for r in marts} == set(tallies)
    for row in marts:
        key = (row["survey_id"], row["wave_id"], row["segment"])
        tally, kind = tallies[key], kinds[key]
        if kind == "nps":
            headline, name = nps(tally), "nps"
        else:
            headline, name = share(top_box(kind, tally), sum(tally.values())), "top_box"
        average = mean(tally)
        value = row["nps"] if kind == "nps" else row["top_box_pct"]
        assert (value, row[f"{name}_ci_low"], row[f"{name}_ci_high"]) == (
            headline.value,
            *(headline.ci or (None, None)),
        ), key
        assert (row["mean"], row["mean_ci_low"], row["mean_ci_high"]) == (
            average.value,
            *(average.ci or (None, None)),
        ), key


def test_loop_by_assignee_counts_what_the_store_holds(built):
    rows = built.rows("SELECT * FROM analytics.cxops_loop_by_assignee ORDER BY ALL")
    assert {row["survey_id"] for row in rows} == {"nps-test"}
    found = {
        (row["assignee"], row["created_month"].strftime("%Y-%m")): (
            row["tasks_created"],
            row["tasks_closed"],
            row["tasks_closed_on_time"],
            row["tasks_withdrawn"],
            row["median_hours_to_close"],
        )
        for row in rows
    }
    expected = {}
    for assignee, month in {(t[0], t[1]) for t in built.tasks}:
        mine = [t for t in built.tasks if (t[0], t[1]) == (assignee, month)]
        hours = sorted(t[4] for t in mine if t[4] is not None)
        expected[(assignee, month)] = (
            len(mine),
            sum(t[2] == "closed" for t in mine),
            sum(t[3] for t in mine),
            sum(t[2] == "withdrawn" for t in mine),
            median(hours) if hours else None,
        )
    assert found == expected
    assert len(found) >= 4, "several assignees in two months"
    created, closed, on_time, withdrawn = (sum(v[i] for v in found.values()) for i in range(4))
    assert created > closed > on_time > 0 and withdrawn == 1


def test_t_quantile_seed_is_what_the_report_uses(built):
    text = (PACKAGE / "seeds" / "cxops_t_quantiles.csv").read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert [int(df) for df, _ in rows] == list(range(1, 301))
    assert all(float(t) == t_quantile(0.95, int(df)) for df, t in rows)
    loaded = built.rows("SELECT df, CAST(t_975 AS DOUBLE) AS t FROM analytics.cxops_t_quantiles")
    assert {row["df"]: row["t"] for row in loaded} == {int(df): float(t) for df, t in rows}
    assert float(z_quantile()) == 1.9599639845400536  # macros/cxops_intervals.sql z_975
