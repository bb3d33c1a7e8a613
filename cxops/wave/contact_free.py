"""Errors that cross into Prefect's records carry no contact data.

Prefect keeps a failed task's or flow's exception in its state message, its events,
its logs (with the traceback and the chained causes) and, for a flow, a pickled copy
under `PREFECT_HOME/storage`; `cxops forget` cannot reach any of them. So an error
leaving a task or flow body that handles contacts is made contact-free first
(`contact_free_errors`): addresses in its message become `[email]`, the chained causes
are dropped (a driver's error lists the row's values), and an error that is not cxops'
own becomes `ScrubbedError` with the first line of its message only (SQLAlchemy puts the
statement's parameters on the lines after it). The full detail stays in the store (the
ledger's per-row errors) and in `--debug` runs' own output, never in Prefect.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from cxops.errors import CxopsError

_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"'=]+@[^\s@<>()\[\],;:\"'=]+\.[^\s@<>()\[\],;:\"'=]+")
REDACTED = "[email]"

P = ParamSpec("P")
R = TypeVar("R")


class ScrubbedError(Exception):
    """An error from inside a task or flow, told by its type and the first line of its
    message without addresses (the rest may hold a contact's values)."""


def redact(text: str) -> str:
    """`text` with every email address replaced by `[email]`."""
    return _ADDRESS.sub(REDACTED, text)


def contact_free(exc: BaseException) -> BaseException:
    """`exc` fit for Prefect's records (the same object for cxops' own errors, with
    addresses taken out; signals pass unchanged)."""
    if not isinstance(exc, Exception):
        return exc
    if isinstance(exc, CxopsError):
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        for name, value in vars(exc).items():
            if isinstance(value, str):
                setattr(exc, name, redact(value))
        exc.__cause__ = None
        exc.__suppress_context__ = True
        return exc
    first = (str(exc).strip().splitlines() or [""])[0]
    scrubbed = ScrubbedError(f"{type(exc).__name__}: {redact(first)}".rstrip(": "))
    scrubbed.__suppress_context__ = True
    return scrubbed


def contact_free_errors(body: Callable[P, R]) -> Callable[P, R]:
    """`body` (a task's or flow's function), raising only contact-free errors."""

    @functools.wraps(body)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return body(*args, **kwargs)
        except Exception as exc:
            clean = contact_free(exc)
            if clean is exc:
                raise
            raise clean from None

    return guarded
