"""The `cxops` command line, the top layer: it may import everything, nothing imports it.

Commands are thin: they parse, call plain functions, print. Each builds its project once
with `app.project_context(ctx, project_dir)` (settings, surveys, the store and channel
opened on first use and closed when the command ends). `main` is the one error handler
(a `CxopsError` is its message; anything else one line; `--debug` the traceback).

Each area registers its commands from its own module; every module imports only
typer and the standard library at import time so that `cxops validate` starts fast.
"""

from __future__ import annotations

import os
import sys

# Register the commands (each module adds its commands to `app`).
from cxops.cli import (  # noqa: F401
    collect_commands,
    crm_commands,
    event_commands,
    followup_commands,
    interview_commands,
    policy_commands,
    privacy_commands,
    project_commands,
    report_commands,
    schedule_commands,
    spec_commands,
    sync_commands,
    theme_commands,
    wave_commands,
    webhook_commands,
)

# isort: split
from cxops.cli import layout  # noqa: F401  (after the commands: orders them, adds panels)
from cxops.cli.app import app, console_error
from cxops.errors import CxopsError


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `cxops` console script: the one error handler.

    A `CxopsError` (the user's input, a file, a setting, a service) is its message in
    red, exit 1; so is an OSError about a file (`PATH: Is a directory`). Anything else
    is a bug or an error not yet given its own class: one line naming its type, exit 1.
    `--debug` (or CXOPS_DEBUG=1) shows the traceback.
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("CXOPS_DEBUG") == "1"
    args = [arg for arg in args if arg != "--debug"]
    if debug:
        os.environ["CXOPS_DEBUG"] = "1"
    try:
        app(args=args, prog_name="cxops", standalone_mode=True)
    except CxopsError as exc:
        if debug:
            raise
        console_error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        console_error("aborted")
        sys.exit(130)
    except Exception as exc:  # the last resort: one line, never a traceback unasked
        if debug:
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            # A file or folder the command was pointed at: `--out /tmp` (a folder), say.
            console_error(f"{exc.filename}: {exc.strerror or exc}")
        else:
            first = (str(exc).strip().splitlines() or [""])[0]
            console_error(
                f"unexpected {type(exc).__name__}: {first} "
                "(run again with --debug for the traceback)"
            )
        sys.exit(1)


__all__ = ["app", "main"]
