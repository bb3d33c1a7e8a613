"""The `cxops` command line. Commands are thin: they parse, call plain functions, print.

Each area registers its commands from its own module; every module imports only
typer and the standard library at import time so that `cxops validate` starts fast.
"""

from __future__ import annotations

import os
import sys

# Register the commands (each module adds its commands to `app`).
from cxops.cli import (  # noqa: F401
    collect_commands,
    followup_commands,
    project_commands,
    schedule_commands,
    spec_commands,
    wave_commands,
)

# isort: split
from cxops.cli import layout  # noqa: F401  (after the commands: orders them, adds panels)
from cxops.cli.app import app, console_error
from cxops.errors import CxopsError


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `cxops` console script."""
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


__all__ = ["app", "main"]
