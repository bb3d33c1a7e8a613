"""A small `cxops run` with `cxops up` running, against the same run in ephemeral mode.

A temporary copy of the repository's project; each run is `cxops run csat-support`
(125 invitations into the outbox) with its own store and outbox, so every run sends.
The two modes alternate (ephemeral, up, ephemeral, up, ...) so a busy machine slows
both alike; the medians and their ratio are printed. Target: up / ephemeral <= 0.4.

    .venv/bin/python benchmarks/up.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-23T09:00:00+00:00"


def timed_run(project: Path, index: int, env: dict[str, str]) -> float:
    run_env = {
        **env,
        "CXOPS_DATABASE_URL": f"sqlite:///{project / f'store-{index}.db'}",
        "CXOPS_OUTBOX_DIR": str(project / f"outbox-{index}"),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cxops", "run", "csat-support", "--json"],
        cwd=project,
        env=run_env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or json.loads(done.stdout)["sent"] != 125:
        raise SystemExit(f"cxops run failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from cxops.schedule.env import API_FILE
    from cxops.schedule.processes import free_port

    with tempfile.TemporaryDirectory(prefix="cxops-bench-up-") as folder:
        project = Path(folder)
        for name in ("surveys", "templates", "data"):
            shutil.copytree(REPO / name, project / name)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CXOPS_", "PREFECT_"))}
        base.update({"CXOPS_NOW": NOW, "CXOPS_PROJECT_DIR": str(project)})
        ephemeral_home = project / "ephemeral-home"
        ephemeral = {**base, "PREFECT_HOME": str(ephemeral_home)}
        up_env = {**base, "PREFECT_HOME": str(project / "client-home")}
        started = time.perf_counter()
        up = subprocess.Popen(
            [sys.executable, "-m", "cxops", "up", "--port", str(free_port())],
            cwd=project,
            env=up_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while not (project / API_FILE).exists():
                if up.poll() is not None:
                    raise SystemExit("cxops up exited")
                time.sleep(0.5)
            print(f"cxops up ready in {time.perf_counter() - started:.1f} s")
            times: dict[str, list[float]] = {"ephemeral": [], "up": []}
            for index in range(args.repeat):
                # While up runs, only the run with PREFECT_API_URL unset would find it:
                # the ephemeral runs get an explicit empty home and `up`'s file hidden.
                hidden = project / API_FILE
                hidden.rename(hidden.with_suffix(".hidden"))
                try:
                    times["ephemeral"].append(timed_run(project, 2 * index, ephemeral))
                finally:
                    hidden.with_suffix(".hidden").rename(hidden)
                times["up"].append(timed_run(project, 2 * index + 1, up_env))
                print(
                    f"run {index + 1}: ephemeral {times['ephemeral'][-1]:.2f} s, "
                    f"up {times['up'][-1]:.2f} s",
                    flush=True,
                )
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(120)
    eph, with_up = statistics.median(times["ephemeral"]), statistics.median(times["up"])
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"median ephemeral {eph:.2f} s · with up {with_up:.2f} s · ratio {with_up / eph:.2f} (target <= 0.4)"
    )


if __name__ == "__main__":
    main()
