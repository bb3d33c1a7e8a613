"""A small `cxops run` with `cxops up` running, against the same run in ephemeral mode.

A temporary copy of the repository's project; each run is `cxops run csat-support`
(125 invitations into the outbox) with its own store and outbox, so every run sends.
The two modes alternate (ephemeral, up, ephemeral, up, ...) so a busy machine slows
both alike; the medians and their ratio are printed. Target: up / ephemeral <= 0.4.

    .venv/bin/python benchmarks/up.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cli_runs import CSAT_SUPPORT_SENT, REPO, project_copy, timed_cxops


def timed_run(project: Path, index: int, env: dict[str, str]) -> float:
    args = ["run", "csat-support", "--json"]
    return timed_cxops(project, args, str(index), env, sent=CSAT_SUPPORT_SENT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from cxops.schedule.env import API_FILE
    from cxops.schedule.processes import free_port

    with project_copy("cxops-bench-up-") as (project, base):
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
