"""How long `cxops validate surveys/` takes, against importing what it cannot avoid.

Runs each command in a fresh interpreter several times and prints the medians and
their ratio. The baseline is `python -c "import yaml, jinja2, pydantic"`: the
libraries validation needs anyway. Usage:

    .venv/bin/python benchmarks/validate_startup.py [--repeat N] [--project DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def median_seconds(command: list[str], cwd: Path, repeat: int) -> float:
    """Median wall time of `command` over `repeat` runs (after one warm-up run)."""
    subprocess.run(command, cwd=cwd, capture_output=True, check=False)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        completed = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if completed.returncode not in (0, 1):
            raise SystemExit(f"{command} failed:\n{completed.stderr.decode()}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--project", type=Path, default=REPO)
    args = parser.parse_args()

    baseline = median_seconds(
        [sys.executable, "-c", "import yaml, jinja2, pydantic"], args.project, args.repeat
    )
    validate = median_seconds(
        [sys.executable, "-m", "cxops", "validate", "surveys"], args.project, args.repeat
    )
    print(f"import yaml, jinja2, pydantic  median {baseline * 1000:8.1f} ms")
    print(f"cxops validate surveys/        median {validate * 1000:8.1f} ms")
    print(f"ratio validate / baseline      {validate / baseline:8.2f}x  ({args.repeat} runs each)")


if __name__ == "__main__":
    main()
