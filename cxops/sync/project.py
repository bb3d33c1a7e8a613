"""What the layers above call: a project's sync, its destinations after `forget`, and
the list `export person` shows.

`sync_project` is also what a schedule runs: `cxops.sync.flow.sync_flow` wraps it for a
Prefect deployment (hourly by default, `SYNC_INTERVAL_SECONDS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cxops.errors import CxopsError
from cxops.project import ProjectContext
from cxops.sync.destinations import parse_destination, read_destinations, remember
from cxops.sync.run import SyncResult, sync

#: How often the scheduled sync runs unless told otherwise.
SYNC_INTERVAL_SECONDS = 3600


def sync_project(project: ProjectContext, to: str | None = None) -> SyncResult:
    """Sync `project`'s store into `to`, else `sync.to`, else the project's DuckDB file."""
    settings = project.settings
    destination = parse_destination(to or settings.sync.to, settings.project_dir)
    surveys = project.surveys.surveys(checks=False).surveys
    return sync(
        project.store,
        destination,
        surveys=surveys,
        project_dir=settings.project_dir,
        now=settings.clock(),
        personal_data=settings.sync.personal_data,
        key=settings.signing_key,
    )


def sync_deployment(entrypoints: str, work_pool: str) -> dict[str, Any]:
    """The hourly sync as a `prefect.yaml` deployment (the shape `cxops deploy` writes);
    `entrypoints` is the module exporting `sync_flow` (`cxops.schedule.entrypoints`)."""
    return {
        "name": "warehouse-sync",
        "description": "The store's changes into the warehouse (cxops sync; docs/warehouse.md).",
        "entrypoint": f"{entrypoints}:sync_flow",
        "tags": ["cxops", "sync"],
        "schedules": [{"interval": SYNC_INTERVAL_SECONDS}],
        "work_pool": {"name": work_pool},
    }


@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    """What `forget` did in one destination: `erased` (synced and rewritten now),
    `pending` (unreachable: the next sync into it erases) or `kept` (PostgreSQL: open
    transactions kept old row versions in the rewritten files)."""

    destination: str
    status: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"destination": self.destination, "status": self.status, "detail": self.detail}


def erase_in_destinations(project: ProjectContext) -> list[ErasureOutcome]:
    """After `forget` changed the store: every destination a sync ever wrote gets the
    person's rows as the store now keeps them, and its files rewritten, at once when
    reachable; otherwise it is marked and the next sync into it does both."""
    settings = project.settings
    outcomes = []
    for entry in read_destinations(settings.project_dir).values():
        destination = parse_destination(str(entry["url"]), settings.project_dir)
        remember(
            settings.project_dir,
            destination,
            now=settings.clock(),
            personal_data=bool(entry.get("personal_data")),
            erasures_pending=int(entry.get("erasures_pending", 0)) + 1,
        )
        try:
            result = sync_project(project, destination.url)
        except CxopsError as exc:  # unreachable: the mark stays, the next sync erases
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            outcomes.append(ErasureOutcome(destination.safe_url, "pending", reason))
            continue
        if result.kept_by:
            pids = ", ".join(str(pid) for pid in result.kept_by)
            detail = f"transactions (pid {pids}) kept old row versions: forget again later"
            outcomes.append(ErasureOutcome(destination.safe_url, "kept", detail))
            continue
        outcomes.append(ErasureOutcome(destination.safe_url, "erased"))
    return outcomes


def destinations_sent(project: ProjectContext) -> list[dict[str, Any]]:
    """Where a sync sent the store's rows: each destination, since when, with or without
    addresses and names (`export person` lists them)."""
    entries = read_destinations(project.settings.project_dir)
    return [
        {
            "destination": entry["url"],
            "kind": entry["kind"],
            "first_sync": entry.get("first_sync"),
            "last_sync": entry.get("last_sync"),
            "addresses_and_names": bool(entry.get("personal_data")),
            "erasures_pending": int(entry.get("erasures_pending", 0)),
        }
        for _, entry in sorted(entries.items())
    ]
