"""Commands: collect_commands."""

from __future__ import annotations

from cxops.cli.app import app  # noqa: F401
