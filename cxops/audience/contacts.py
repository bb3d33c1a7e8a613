"""Contacts as read from a source, and the rows that could not be read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


@dataclass(slots=True)
class Contact:
    key: str
    email: str
    #: Where it came from: the CSV line the record starts on, else the 1-based record number.
    row: int
    #: Every source column by name, typed per `columns:` (empty cells are None).
    fields: dict[str, Any]

    @property
    def locale(self) -> str | None:
        value = self.fields.get("locale")
        return str(value).strip() or None if value is not None else None


@dataclass(frozen=True, slots=True)
class BadRow:
    row: int
    key: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "key": self.key, "reason": self.reason}


def normalize_email(raw: Any) -> str | None:
    """Trimmed, domain lower-cased; None when it is not a valid address."""
    if raw is None:
        return None
    text = str(raw).strip()
    if text.count("@") != 1 or len(text) > 320:
        return None
    local, domain = text.rsplit("@", 1)
    candidate = f"{local}@{domain.lower()}"
    return candidate if _EMAIL.match(candidate) else None
