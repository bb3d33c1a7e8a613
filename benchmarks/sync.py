"""`cxops sync` of a store of 1,000,000 responses into DuckDB, against DuckDB's own bulk
insert of the same rows, in the same run; then a sync with nothing new.

    python benchmarks/sync.py                   # 1,000,000 responses (the report's store)
    python benchmarks/sync.py --answers 200000  # a smaller store on a loaded machine

The store is `benchmarks/report.py`'s (four waves of an NPS survey, 1.25 invitations per
response, a comment on one response in five, tasks on one detractor in ten). Measured:

- **read**: the store's rows as the warehouse's Arrow tables (`cxops.sync.rows`, the
  readers the sync uses: the driver's cursor, columns converted by Arrow), every
  table, no destination;
- **bulk insert**: those same Arrow tables written into a new DuckDB file with DuckDB's
  own `CREATE TABLE … AS SELECT * FROM arrow` (no dlt);
- **sync**: `cxops.sync.run.sync` into a new DuckDB file (reading, comparing, dlt's
  extract, normalize and merge load), in-process;
- **no-change sync**: the same sync again (nothing new: the block sums equal the last
  sync's, so dlt is not used), in-process, and `cxops sync` as a user runs it
  (interpreter start-up and imports included).

dlt and DuckDB are imported before any clock starts (their import is start-up, which
the last figure includes). dlt's own step times (extract includes reading the store)
are printed under the sync.

Targets: sync ≤ 2 × (read + bulk insert) — a loader has to read the rows too, so the
bulk insert is timed after the same read — and the no-change sync ≤ 5 s. The ratio to
the bulk insert alone is printed as well.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    args = parser.parse_args()
    from report import build  # benchmarks/report.py: the same store

    with tempfile.TemporaryDirectory(prefix="cxops-bench-sync-") as folder:
        project = Path(folder) / "project"
        project.mkdir()
        build(project, args.answers)
        os.environ["CXOPS_PROJECT_DIR"] = str(project)
        os.environ["CXOPS_DATABASE_URL"] = f"sqlite:///{project / 'cxops.db'}"
        figures = measure(project)
    print_figures(figures, args.answers)


def measure(project: Path) -> dict[str, float]:
    import dlt  # noqa: F401  (imported before the clock starts, like duckdb: start-up is
    import duckdb  # measured on its own, by the `cxops sync` run at the end)

    from cxops.project import open_project
    from cxops.settings import get_settings
    from cxops.sync import checksums
    from cxops.sync.destinations import parse_destination
    from cxops.sync.rows import READERS, Context, survey_rows
    from cxops.sync.run import sync

    settings = get_settings(project_dir=project)
    figures: dict[str, float] = {"load_before": os.getloadavg()[0]}
    with open_project(settings) as context:
        surveys = context.surveys.surveys(checks=False).surveys
        store = context.store
        built = Context(False, surveys, settings.clock(), settings.signing_key, project)

        started = time.perf_counter()
        chunks: dict[str, list[object]] = {"surveys": [survey_rows(built)]}
        with store.connect() as conn:
            for source, reader in READERS.items():
                everything = [(0, 2**62)] if checksums.SOURCES[source].id_column else []
                for chunk in reader(conn, everything, built):
                    for name, table in chunk.items():
                        chunks.setdefault(name, []).append(table)
        figures["read"] = time.perf_counter() - started
        figures["rows"] = float(sum(t.num_rows for ts in chunks.values() for t in ts))  # type: ignore[attr-defined]

        started = time.perf_counter()
        with duckdb.connect(str(project / "bulk.duckdb")) as con:
            con.execute("CREATE SCHEMA cxops")
            for name, tables in chunks.items():
                for index, table in enumerate(tables):
                    con.register("chunk", table)
                    if index == 0:
                        con.execute(f"CREATE TABLE cxops.{name} AS SELECT * FROM chunk")
                    else:
                        con.execute(f"INSERT INTO cxops.{name} SELECT * FROM chunk")
                    con.unregister("chunk")
            con.execute("CHECKPOINT")
        figures["bulk"] = time.perf_counter() - started
        del chunks

        destination = parse_destination("duckdb:///warehouse.duckdb", project)
        options = {
            "surveys": surveys,
            "project_dir": project,
            "now": settings.clock(),
            "personal_data": False,
            "key": settings.signing_key,
        }
        from cxops.sync import run

        pipelines: list[object] = []
        made = run.pipeline_for
        run.pipeline_for = lambda *a: pipelines.append(made(*a)) or pipelines[-1]  # type: ignore[assignment]
        started = time.perf_counter()
        first = sync(store, destination, **options)  # type: ignore[arg-type]
        figures["sync"] = time.perf_counter() - started
        for step in pipelines[0].last_trace.steps:  # type: ignore[attr-defined]
            took = (step.finished_at - step.started_at).total_seconds()
            figures[f"dlt {step.step}"] = took
        figures["synced_rows"] = float(sum(first.rows.values()))

        started, cpu = time.perf_counter(), time.process_time()
        again = sync(store, destination, **options)  # type: ignore[arg-type]
        figures["no_change"] = time.perf_counter() - started
        figures["no_change_cpu"] = time.process_time() - cpu
        started = time.perf_counter()
        checksums.store_checksums(store)
        figures["checksums"] = time.perf_counter() - started
        assert again.rows == {}, again.rows

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cxops", "sync", "--json"],
        cwd=project,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    figures["no_change_cli"] = time.perf_counter() - started
    figures["load_after"] = os.getloadavg()[0]
    return figures


def print_figures(f: dict[str, float], answers: int) -> None:
    baseline = f["read"] + f["bulk"]
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"load average (1 min): {f['load_before']:.1f} at the start, {f['load_after']:.1f} at the end"
    )
    print(f"store: {answers:,} responses; warehouse rows: {int(f['rows']):,} (sync wrote "
          f"{int(f['synced_rows']):,})")  # fmt: skip
    print(f"read (store rows as Arrow tables)    {f['read']:8.1f} s")
    print(f"DuckDB bulk insert of those tables   {f['bulk']:8.1f} s")
    print(f"read + bulk insert                   {baseline:8.1f} s")
    print(f"cxops sync into a new DuckDB file    {f['sync']:8.1f} s")
    print(f"  sync / (read + bulk insert)        {f['sync'] / baseline:8.2f} ×   target ≤ 2")
    print(f"  sync / bulk insert alone           {f['sync'] / f['bulk']:8.2f} ×")
    for name, took in f.items():
        if name.startswith("dlt "):
            print(f"  of which {name:<26} {took:8.1f} s")
    print(f"no-change sync, in-process           {f['no_change']:8.2f} s   target ≤ 5 s")
    print(f"  its CPU time (this process)        {f['no_change_cpu']:8.2f} s")
    print(f"  the block sums alone (database)    {f['checksums']:8.2f} s")
    print(f"no-change `cxops sync`, start-up in  {f['no_change_cli']:8.2f} s")


if __name__ == "__main__":
    main()
