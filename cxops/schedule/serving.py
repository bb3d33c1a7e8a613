"""The `serve` child of `cxops up`: every deployment of `cxops deploy`, served by one Runner.

Run as `python -m cxops.schedule.serving PROJECT_DIR` with PREFECT_API_URL set to
`up`'s API. The same deployments as `prefect.yaml` (same names, schedules and
parameters), plus `project_dir` so the flow runs read this project wherever they start.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

from cxops.schedule.deploy import desired_deployments, entrypoint_exists


def runner_deployments(project_dir: Path) -> list[Any]:
    """Prefect RunnerDeployments of the project's surveys and loop flows."""
    from prefect.schedules import Cron, Interval

    from cxops.schedule import entrypoints
    from cxops.settings import get_settings
    from cxops.spec import load_surveys

    settings = get_settings(project_dir=project_dir)
    surveys = (
        load_surveys(settings.surveys_path, project_dir=settings.project_dir)
        if settings.surveys_path.is_dir()
        else []
    )
    made = []
    for wanted in desired_deployments(surveys, settings.project_dir, entrypoint_exists):
        function = wanted["entrypoint"].rpartition(":")[2]
        flow = getattr(entrypoints, function)
        schedules = []
        for schedule in wanted["schedules"]:
            parameters = schedule.get("parameters")
            if "cron" in schedule:
                schedules.append(
                    Cron(schedule["cron"], timezone=schedule["timezone"], parameters=parameters)
                )
            else:
                schedules.append(Interval(schedule["interval"], parameters=parameters))
        made.append(
            flow.to_deployment(
                name=wanted["name"],
                description=wanted["description"],
                tags=wanted["tags"],
                parameters={
                    **wanted.get("parameters", {}),
                    "project_dir": str(settings.project_dir),
                },
                schedules=schedules,
            )
        )
    return made


def main(argv: list[str]) -> int:
    # `up` stops this child with SIGINT. A process started in the background by a
    # non-interactive shell (`cxops up &` in a script, a test run under such a shell)
    # inherits SIGINT *ignored*, and Python then installs no handler: the signal would
    # do nothing and `up` would wait out its timeout before killing us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        from prefect import serve

        from cxops.schedule.env import apply_quiet_defaults

        apply_quiet_defaults()
        serve(*runner_deployments(Path(argv[0])), print_starting_message=False)
    except KeyboardInterrupt:
        # Ctrl-C while the Runner still registers its deployments: once it serves, it
        # catches the interrupt itself and returns, so both stops end the same way.
        print("stopped before the schedules were served", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
