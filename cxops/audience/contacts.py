"""Contacts as read from a source, and the rows that could not be read."""

from __future__ import annotations

import hashlib
import re
from array import array
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

#: Plain ASCII addresses that `email-validator` accepts as they are, checked without it:
#: dot-atom local part, LDH labels without "--", a letters-only top-level label. The
#: equivalence is a property test (tests/test_properties_email.py); all else goes to it.
_PLAIN_EMAIL = re.compile(
    r"([A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63}))"
)
#: Special-use names email-validator refuses (single labels: the last label decides).
_SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
_MAX_LOCAL = 64
_MAX_ADDRESS = 254


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
    """The address as stored and compared, or None when it is not a deliverable address.

    Checked by `email-validator` (the library pydantic uses) without DNS look-ups:
    internationalised domains are accepted and kept in their ASCII (IDNA) form, which
    every channel can deliver; forms SMTP cannot deliver (quoted local parts, IP
    literals, special-use domains like `.test`) are refused. The whole address is
    lower-cased, so `ANN@X.EXAMPLE` and `ann@x.example` are one person everywhere the
    store compares addresses (dedupe, suppressions, history).
    """
    if raw is None:
        return None
    text = str(raw).strip()
    if not text or len(text) > 4 * _MAX_ADDRESS:
        return None
    if text.isascii() and _plain(text):
        return text.lower()
    return _validated(text)


def _plain(text: str) -> bool:
    if len(text) > _MAX_ADDRESS:
        return False
    match = _PLAIN_EMAIL.fullmatch(text)
    if match is None or match.end(1) > _MAX_LOCAL or "--" in match[2]:
        return False
    return match[3].lower() not in _SPECIAL_USE


def _validated(text: str) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return (checked.ascii_email or checked.normalized).lower()


# -- typed columns -----------------------------------------------------------------

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def coerce(value: Any, kind: str) -> Any:
    """`value` as the column type `kind` (int, float, date, datetime, bool, str).

    Text is trimmed first; empty text and None are None. Values a database or
    Parquet file already typed are accepted when they fit. Raises ValueError when
    the value is not of the type; datetimes without a time zone are UTC.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    converter = _CONVERTERS.get(kind)
    if converter is None:
        raise ValueError(f"unknown column type {kind!r}")
    return converter(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        try:
            whole = int(value)
        except (OverflowError, ValueError):  # inf, nan
            raise ValueError(value) from None
        if whole != value:
            raise ValueError(value)
        return whole
    if isinstance(value, str):
        if not _INT_TEXT.fullmatch(value):  # int() would also take '1_000' and '٣'
            raise ValueError(value)
        return int(value)
    raise ValueError(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        if not _FLOAT_TEXT.fullmatch(value):  # float() would also take 'nan' and 'inf'
            raise ValueError(value)
        return float(value)
    raise ValueError(value)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise ValueError(value)


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        result = datetime.fromisoformat(value)
    else:
        raise ValueError(value)
    return result if result.tzinfo else result.replace(tzinfo=UTC)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ValueError(value)


def _to_str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


_CONVERTERS = {
    "int": _to_int,
    "float": _to_float,
    "date": _to_date,
    "datetime": _to_datetime,
    "bool": _to_bool,
    "str": _to_str,
}


# -- keys seen so far --------------------------------------------------------------


class SeenIndex:
    """Remembers which strings were seen, and on which row first, in ~40 bytes each.

    A million keys in a dict or set of str cost well over 100 MB; this keeps a
    128-bit blake2b fingerprint and the row in flat arrays (open addressing),
    so two different keys are confused with a probability of about n² / 2¹²⁹.
    """

    _MAX_LOAD = 0.7

    def __init__(self, capacity: int = 1024):
        self._size = 0
        self._allocate(max(16, 1 << (capacity - 1).bit_length()))

    def __len__(self) -> int:
        return self._size

    def first_row(self, text: str, row: int) -> int:
        """The row `text` was first seen on; records `row` (>= 1) when it is new."""
        high, low = _fingerprint(text)
        slot = low & self._mask
        while True:
            found = self._rows[slot]
            if found == 0:
                self._store(slot, high, low, row)
                return row
            if self._high[slot] == high and self._low[slot] == low:
                return found
            slot = (slot + 1) & self._mask

    def add(self, text: str) -> bool:
        """Remember `text`; True when it was new."""
        before = self._size
        self.first_row(text, before + 1)
        return self._size > before

    def _store(self, slot: int, high: int, low: int, row: int) -> None:
        self._high[slot], self._low[slot], self._rows[slot] = high, low, row
        self._size += 1
        if self._size > self._MAX_LOAD * len(self._rows):
            self._grow()

    def _allocate(self, capacity: int) -> None:
        self._mask = capacity - 1
        self._high = array("Q", bytes(8 * capacity))
        self._low = array("Q", bytes(8 * capacity))
        self._rows = array("I", bytes(4 * capacity))  # 0 marks an empty slot

    def _grow(self) -> None:
        high, low, rows = self._high, self._low, self._rows
        self._allocate(2 * len(rows))
        for index, row in enumerate(rows):
            if row:
                slot = low[index] & self._mask
                while self._rows[slot]:
                    slot = (slot + 1) & self._mask
                self._high[slot], self._low[slot], self._rows[slot] = high[index], low[index], row


def _fingerprint(text: str) -> tuple[int, int]:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big")
