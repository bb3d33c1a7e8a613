"""Running a wave from the terminal: the flow run with a progress bar."""

from __future__ import annotations

import sys
from typing import Any

from cxops.settings import Settings
from cxops.spec.models import Survey


def run_with_progress(
    survey: Survey,
    settings: Settings,
    *,
    wave: str | None = None,
    dry_run: bool = False,
    resend_in_doubt: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run one wave as a Prefect flow run; a rich progress bar on stderr while it sends."""
    import os

    # Prefect's per-task lines (and tracebacks of errors we print ourselves) drown the
    # summary; the flow runs stay in Prefect's UI and API. `--debug` shows them all.
    level = "INFO" if os.environ.get("CXOPS_DEBUG") == "1" else "CRITICAL"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", level)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cxops.compiler import run_wave
    from cxops.sending import add_progress_listener, remove_progress_listener

    assert survey.source_path is not None
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=quiet or not sys.stderr.isatty(),
    )
    bar = progress.add_task("sending" if not dry_run else "rendering", total=None)

    def listener(event: str, count: int) -> None:
        if event == "planned":
            progress.update(bar, total=count, completed=0)
        else:
            progress.advance(bar, count)

    add_progress_listener(listener)
    try:
        with progress:
            return run_wave(
                survey.source_path,
                settings,
                wave=wave,
                dry_run=dry_run,
                resend_in_doubt=resend_in_doubt,
            )
    finally:
        remove_progress_listener(listener)
