"""Where a report's numbers come from: the survey file's git commit (and whether it has
uncommitted changes), a hash of the inputs, the cxops version and the time.

The hash is SHA-256 over the canonical JSON of everything the report is computed
from (`SurveyData.canonical`: counts by wave × segment × answer, text answers, the
follow-up cases), so the same answers give the same hash and the same numbers.
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any


def cxops_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cxops")
    except PackageNotFoundError:
        return "unknown"


def inputs_hash(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def git_state(path: Path | None) -> dict[str, Any]:
    """`{commit, dirty}` of the file at `path` in its git repository; nulls when it is not in one.

    `commit` is the last commit that changed the file; `dirty` is true when the file
    differs from it (or is not committed yet).
    """
    empty: dict[str, Any] = {"commit": None, "dirty": None}
    if path is None or not path.exists():
        return empty
    folder = path.resolve().parent
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        return empty
    commit = _git(folder, "log", "-1", "--format=%H", "--", path.name)
    status = _git(folder, "status", "--porcelain", "--", path.name)
    return {"commit": commit or None, "dirty": bool(status) or not commit}


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def provenance(
    survey_path: Path | None, project_dir: Path, canonical: str, now: datetime
) -> dict[str, Any]:
    shown: str | None = None
    if survey_path is not None:
        try:
            shown = str(survey_path.resolve().relative_to(project_dir.resolve()))
        except ValueError:
            shown = str(survey_path)
    return {
        "survey_file": shown,
        **git_state(survey_path),
        "inputs_sha256": inputs_hash(canonical),
        "cxops_version": cxops_version(),
        "generated_at": now.isoformat(),
    }
