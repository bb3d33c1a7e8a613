"""A wave with Prefect's default task runner against the same wave on a local Dask cluster.

    python benchmarks/wave_dask.py                  # 20,000 contacts, two runs of each
    python benchmarks/wave_dask.py --contacts 5000 --repeat 1

The synthetic project of `benchmarks/wave.py` (an NPS survey in three locales, every
contact invited, into the outbox). Each wave runs the real flow (`run_wave`) in its own
process after a warm-up flow (so Prefect's ephemeral API start-up is not counted), with
its own store and outbox; the two modes alternate so that load from other work hits
both alike:

- **thread**: `CXOPS_TASK_RUNNER=thread` (the default: one batch in flight);
- **dask**: `CXOPS_TASK_RUNNER=dask` (prefect-dask's local cluster, one worker process
  per core; as many batches in flight as it has threads). Its start-up and shutdown
  are part of the wave's time: that is what choosing it costs.

Prints wall seconds, contacts/s, CPU seconds (the process and its children, Dask's
workers included) and the ratio dask / thread of the medians.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _wave_benchmark() -> Any:
    """`benchmarks/wave.py` (its synthetic project), by path: `wave` is also a stdlib module."""
    path = Path(__file__).resolve().parent / "wave.py"
    spec = importlib.util.spec_from_file_location("wave_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child(project: Path) -> dict[str, float]:
    from prefect import flow

    from cxops.settings import get_settings
    from cxops.spec import load_survey
    from cxops.wave.run import run_wave

    @flow
    def warm_up() -> int:
        return 1

    warm_up()
    settings = get_settings()
    survey = load_survey(project / "surveys" / "bench-nps.yaml", project_dir=project)
    cpu_before = _cpu()
    started = time.perf_counter()
    summary = run_wave(survey, settings)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "cpu": _cpu() - cpu_before,
        "sent": summary.sent,
        "failed": summary.failed + summary.in_doubt,
    }


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    wave = _wave_benchmark()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        project = wave.make_project(base / "project", args.contacts)
        runs: dict[str, list[dict[str, float]]] = {"thread": [], "dask": []}
        for index in range(args.repeat):
            for mode in runs:
                run_dir = base / f"{mode}-{index}"
                run_dir.mkdir()
                env = {k: v for k, v in os.environ.items() if not k.startswith("CXOPS_")}
                env |= {
                    "CXOPS_PROJECT_DIR": str(project),
                    "CXOPS_NOW": wave.NOW,
                    "CXOPS_TASK_RUNNER": mode,
                    "CXOPS_DATABASE_URL": f"sqlite:///{run_dir / 'cxops.db'}",
                    "CXOPS_OUTBOX_DIR": str(run_dir / "outbox"),
                    "PREFECT_HOME": str(run_dir / "prefect"),
                    # a shared, loaded machine: give the ephemeral API time to start
                    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
                }
                done = subprocess.run(
                    [sys.executable, __file__, "--child", str(project)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                assert result["sent"] == args.contacts and not result["failed"], result
                runs[mode].append(result)
                print(
                    f"{mode:7} run {index + 1}: {result['seconds']:.1f} s, CPU {result['cpu']:.1f} s"
                )
        wall = {
            mode: statistics.median(r["seconds"] for r in items) for mode, items in runs.items()
        }
        cpu = {mode: statistics.median(r["cpu"] for r in items) for mode, items in runs.items()}
        print(f"{args.contacts:,} contacts, medians of {args.repeat}")
        for mode in runs:
            print(
                f"{mode:7} {wall[mode]:7.1f} s  {args.contacts / wall[mode]:7,.0f}/s  CPU {cpu[mode]:6.1f} s"
            )
        print(
            f"dask / thread: wall {wall['dask'] / wall['thread']:.2f} ×, CPU {cpu['dask'] / cpu['thread']:.2f} ×"
        )


if __name__ == "__main__":
    main()
