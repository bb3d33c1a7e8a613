"""The scheduled sync: one `cxops sync` of the project as a Prefect flow.

`cxops.sync.project.sync_deployment` is its deployment (hourly by default), for
`cxops deploy` and `cxops up` to list once `cxops.schedule.entrypoints` exports
`sync_flow`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from cxops.project import open_project
from cxops.settings import get_settings
from cxops.sync.project import sync_project


@flow(name="warehouse-sync", persist_result=False)
def sync_flow(project_dir: str | None = None, to: str | None = None) -> dict[str, Any]:
    """Load what changed in the project's store into its warehouse (`to`, else `sync.to`,
    else `warehouse.duckdb` in the project); rows written per table."""
    settings = get_settings(project_dir=Path(project_dir) if project_dir else None)
    with open_project(settings) as project:
        return sync_project(project, to).as_dict()
