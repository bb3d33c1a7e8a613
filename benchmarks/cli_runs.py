"""What the benchmarks of whole commands share: a temporary copy of the repository's
project, its environment, and one timed `cxops` command with its own store and outbox
(so every `run` sends)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-23T09:00:00+00:00"
#: `cxops run csat-support` invites this many people of the repository's sample data.
CSAT_SUPPORT_SENT = 125


@contextmanager
def project_copy(prefix: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary copy of the project (surveys, templates, data) and the environment its
    commands run in: no CXOPS_/PREFECT_ variables of the caller, a fixed clock."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        project = Path(folder)
        for name in ("surveys", "templates", "data"):
            shutil.copytree(REPO / name, project / name)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CXOPS_", "PREFECT_"))}
        base.update({"CXOPS_NOW": NOW, "CXOPS_PROJECT_DIR": str(project)})
        yield project, base


def timed_cxops(
    project: Path, args: list[str], name: str, env: dict[str, str], *, sent: int | None = None
) -> float:
    """Seconds `cxops ARGS` took, with a store and outbox of its own (`name`); exits
    when it fails or, with `sent`, when its `--json` says another number was sent."""
    run_env = {
        **env,
        "CXOPS_DATABASE_URL": f"sqlite:///{project / f'store-{name}.db'}",
        "CXOPS_OUTBOX_DIR": str(project / f"outbox-{name}"),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cxops", *args],
        cwd=project,
        env=run_env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or (sent is not None and json.loads(done.stdout)["sent"] != sent):
        raise SystemExit(f"cxops {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed
