"""The exceptions cxops raises. Each carries the place or the value at fault.

The CLI prints any `CxopsError` as a red message and exits 1; anything else is a
bug and is one line naming its type (the traceback with `--debug`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


class CxopsError(Exception):
    """Root of every error cxops raises on purpose."""


@dataclass(frozen=True)
class Location:
    """A place in a file: 1-based line and column, as editors show them."""

    path: Path
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}"
        return str(self.path)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a survey file."""

    location: Location
    key_path: str
    message: str
    source_line: str = field(default="", compare=False)

    def __str__(self) -> str:
        where = f"{self.location}: {self.key_path}: " if self.key_path else f"{self.location}: "
        return where + self.message

    def with_context(self) -> str:
        """The message, then the offending line with a caret under the column."""
        text = str(self)
        if self.source_line and self.location.column:
            caret = " " * (self.location.column - 1) + "^"
            text += f"\n    {self.source_line.rstrip()}\n    {caret}"
        return text


class SurveyError(CxopsError):
    """A survey file is invalid; holds every problem found, not only the first."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(CxopsError):
    """A setting has a bad value, or the project layout is wrong."""


class SourceError(CxopsError):
    """A contact source cannot be read at all (missing file, bad query, bad URL)."""

    def __init__(self, source: str, message: str):
        self.source = source
        super().__init__(f"{source}: {message}")


class ExpressionError(CxopsError):
    """An expression failed while it was evaluated for one contact or answer."""

    def __init__(self, expression: str, message: str, where: str = ""):
        self.expression = expression
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{expression!r}: {message}")


class TemplateError(CxopsError):
    """A message template is missing or fails to render."""


class StoreError(CxopsError):
    """The store cannot be opened, migrated or written."""


class ChannelError(CxopsError):
    """A channel refused a whole batch for good (bad key, bad request)."""


class CrmError(CxopsError):
    """The CRM refused a request for good, or stayed unreachable through the retries."""


class TokenError(CxopsError):
    """A signed link token is invalid (tampered) or expired."""

    def __init__(self, message: str, *, expired: bool = False):
        self.expired = expired
        super().__init__(message)


class NotFoundError(CxopsError):
    """A named thing (survey, contact, task) does not exist."""


class AmbiguousSurveyError(CxopsError):
    """Two or more survey files carry the same id: which one to use is not guessed."""

    def __init__(self, survey_id: str, paths: Sequence[Path]):
        self.survey_id = survey_id
        self.paths = list(paths)
        names = ", ".join(str(p) for p in self.paths)
        super().__init__(
            f"survey id {survey_id!r} is used by {len(self.paths)} files ({names}); "
            "give one an id of its own, or name the file"
        )
