"""What the last complete sync into a destination loaded, kept in the project, so that a
sync with nothing new stops before dlt is even imported.

`.cxops/sync/state/<destination>.json` holds the block sums, the schema version and the
personal-data setting of the last sync whose load completed. A sync whose store sums
equal them, with no erasure pending, has nothing to write. The file is removed before a
sync hands anything to dlt and written again only once its load completed: a killed or
failed sync leaves none, and the next sync takes the full path, which finishes the
interrupted load first. The state dlt loads into the destination with the rows stays
what that full path trusts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cxops.spec.models import Survey
from cxops.sync.destinations import sync_folder

Blocks = dict[str, dict[str, str]]


def _path(project_dir: Path, slug: str) -> Path:
    return sync_folder(project_dir) / "state" / f"{slug}.json"


def read_state(project_dir: Path, slug: str) -> dict[str, Any]:
    """The last complete sync's state, or {} (none yet, or the last sync did not finish)."""
    path = _path(project_dir, slug)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def write_state(
    project_dir: Path, slug: str, *, blocks: Blocks, schema_version: int, personal_data: bool
) -> None:
    path = _path(project_dir, slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"blocks": blocks, "schema_version": schema_version, "personal_data": personal_data}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def clear_state(project_dir: Path, slug: str) -> None:
    _path(project_dir, slug).unlink(missing_ok=True)


def unchanged(
    state: Mapping[str, Any], blocks: Blocks, *, schema_version: int, personal_data: bool
) -> bool:
    """True when the last complete sync loaded exactly these sums under these settings."""
    return (
        state.get("blocks") == blocks
        and state.get("schema_version") == schema_version
        and state.get("personal_data") is personal_data
    )


# -- the survey files -------------------------------------------------------------


def survey_version(survey: Survey) -> str:
    """A digest of the survey's kind and questions (what answers are read against)."""
    document = {
        "kind": survey.kind,
        "questions": [q.model_dump(mode="json") for q in survey.questions],
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def survey_checksum(surveys: Mapping[str, Survey]) -> dict[str, str]:
    """The survey files' one "block": a digest of every survey's id and version."""
    versions = sorted(f"{sid}:{survey_version(s)}" for sid, s in surveys.items())
    return {"0": hashlib.sha256("\n".join(versions).encode()).hexdigest()} if versions else {}
