"""`cxops tasks` as tables a terminal can read: times in one stated zone, and at most the
terminal's width (at 80 columns the customer, survey and priority go under the title)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cxops.timezones import time_zone

#: From this width on, every field has its own column.
WIDE = 120


def listing_zone(chosen: str | None, zones: Iterable[str]) -> str:
    """The zone the listing shows times in: `chosen` (`--timezone`), else the one zone of
    the listed tasks' surveys (as their emails show them), else UTC."""
    if chosen:
        return chosen
    found = set(zones)
    return found.pop() if len(found) == 1 else "UTC"


def local_time(moment: str, zone: str) -> str:
    """A stored ISO time as `YYYY-MM-DD HH:MM` in `zone`."""
    return datetime.fromisoformat(moment).astimezone(time_zone(zone)).strftime("%Y-%m-%d %H:%M")


def _state(row: Mapping[str, Any], zone: str) -> str:
    state = "OVERDUE" if row["overdue"] else str(row["status"])
    if row["snoozed_until"]:
        state = f"snoozed until {local_time(row['snoozed_until'], zone)[:10]}"
    if row["outcome"] and row["status"] != "open":
        state += f": {row['outcome']}"
    return state


def print_task_tables(out: Console, rows: list[dict[str, Any]], zone: str) -> None:
    """One table per assignee; the due column's header names `zone`."""
    wide = out.width >= WIDE
    by_assignee: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_assignee.setdefault(row["assignee"], []).append(row)
    for person in sorted(by_assignee):
        table = Table(
            title=Text(f"{person} ({len(by_assignee[person])})"),
            title_justify="left",
            expand=False,
        )
        table.add_column("id", justify="right", no_wrap=True)
        table.add_column(f"due ({zone})", overflow="fold")
        if wide:
            for column in ("priority", "status", "survey", "customer", "task"):
                table.add_column(column, overflow="fold")
        else:
            table.add_column("status", overflow="fold")
            table.add_column("task · customer · survey · priority", overflow="fold", ratio=1)
        for row in by_assignee[person]:
            due = local_time(row["due"], zone)
            customer = f"{row['customer']} ({row['contact_key']})"
            if wide:
                cells = (row["priority"], _state(row, zone), row["survey"], customer, row["title"])
                table.add_row(str(row["id"]), due, *(Text(str(v)) for v in cells))
            else:
                task = Text(str(row["title"]))
                task.append(f"\n{customer} · {row['survey']} · {row['priority']}", style="dim")
                table.add_row(str(row["id"]), due, Text(_state(row, zone)), task)
        out.print(table)
