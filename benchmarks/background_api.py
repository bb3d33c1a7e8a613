"""Small `cxops run` and `cxops followups` in a row: the project's background Prefect API
against Prefect's ephemeral one (CXOPS_PREFECT_IDLE_MINUTES=0), same run, same machine.

A temporary copy of the repository's project. `cxops run csat-support` (125 invitations
into the outbox, its own store each time, so every run sends) and `cxops followups`
each run --repeat times per mode; the modes alternate (ephemeral, background,
ephemeral, ...) so a busy machine slows both alike. The first background command
starts the server; the later ones reuse it. Target: the median of the second and later
background commands <= 0.3 x the ephemeral median.

    .venv/bin/python benchmarks/background_api.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from cli_runs import CSAT_SUPPORT_SENT, REPO, project_copy, timed_cxops

COMMANDS = {
    "run": ["run", "csat-support", "--json"],
    "followups": ["followups", "--json"],
}


def timed(project: Path, command: str, index: int, env: dict[str, str]) -> float:
    sent = CSAT_SUPPORT_SENT if command == "run" else None
    return timed_cxops(project, COMMANDS[command], f"{command}-{index}", env, sent=sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from cxops.schedule.background_api import read_background_api

    with project_copy("cxops-bench-bg-") as (project, base):
        ephemeral = {
            **base,
            "PREFECT_HOME": str(project / "ephemeral-home"),
            "CXOPS_PREFECT_IDLE_MINUTES": "0",
        }
        background = {**base, "PREFECT_HOME": str(project / "client-home")}
        results: dict[str, dict[str, list[float]]] = {}
        pids: set[int] = set()
        try:
            for command in COMMANDS:
                times: dict[str, list[float]] = {"ephemeral": [], "background": []}
                for index in range(args.repeat):
                    times["ephemeral"].append(timed(project, command, 2 * index, ephemeral))
                    times["background"].append(timed(project, command, 2 * index + 1, background))
                    api = read_background_api(project)
                    pids.add(api.pid if api else -1)
                    print(
                        f"{command} {index + 1}: ephemeral {times['ephemeral'][-1]:.2f} s, "
                        f"background {times['background'][-1]:.2f} s",
                        flush=True,
                    )
                results[command] = times
        finally:
            subprocess.run(
                [sys.executable, "-m", "cxops", "api", "stop"], cwd=project, env=background
            )
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f}; "
        f"background API pids seen: {sorted(pids)}"
    )
    for command, times in results.items():
        eph = statistics.median(times["ephemeral"])
        later = statistics.median(times["background"][1:])
        print(
            f"{command}: median ephemeral {eph:.2f} s · background first "
            f"{times['background'][0]:.2f} s, later median {later:.2f} s · "
            f"ratio {later / eph:.2f} (target <= 0.3)"
        )


if __name__ == "__main__":
    main()
