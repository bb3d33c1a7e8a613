"""Progress of a wave for in-process listeners (the CLI's progress bar).

Flows run in the CLI's process, so a plain list of callbacks reaches the bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: (event, count): ("planned", recipients pending) then ("batch", recipients handled).
ProgressCallback = Callable[[str, int], None]
_listeners: list[ProgressCallback] = []


def add_progress_listener(listener: ProgressCallback) -> None:
    _listeners.append(listener)


def remove_progress_listener(listener: ProgressCallback) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def notify_progress(event: str, count: int) -> None:
    for listener in list(_listeners):
        listener(event, count)


def notify_planned(counts: Mapping[str, Any]) -> None:
    """Tell listeners how many recipients the send loop has ahead of it."""
    notify_progress("planned", counts.get("pending", 0))
