"""The values settings check and the signing key's file: pure helpers of the groups."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from cxops.durations import Limit, parse_limit
from cxops.timezones import time_zone

ENV_PREFIX = "CXOPS_"
SECRET_KEY_FILE = Path(".cxops") / "secret_key"
#: A signing key shorter than this is refused: an empty or short key lets anyone forge links.
MIN_SECRET_KEY_BYTES = 32
#: A signing key of fewer different bytes than this is refused: 32 spaces or `abab…` is
#: long enough but guessable (a generated key has about 40 of its 64 characters different).
MIN_SECRET_KEY_DISTINCT_BYTES = 8
LOCALE = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?"


def parse_contact_cap(text: str) -> Limit | None:
    """`1 per 30d` -> Limit(1, 30d); `none`, `off` or `0` -> no cap."""
    if text.strip().lower() in {"none", "off", "0"}:
        return None
    expected = f"expected 'N per DURATION' like '1 per 30d', or 'none'; found {text!r}"
    try:
        limit = parse_limit(text)
    except ValueError as exc:
        raise ValueError(f"{expected} ({exc})") from None
    if limit.never:
        raise ValueError(expected)
    return limit


def check_locale(value: str) -> str:
    if not re.fullmatch(LOCALE, value):
        raise ValueError(f"expected a locale like 'en', 'de' or 'fr-CA', found {value!r}")
    return value


def check_timezone(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    time_zone(value)
    return value


class StaffMember(BaseModel):
    """How one assignee reads their emails: a locale and a time zone (each optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: str | None = None
    timezone: str | None = None

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_locale(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return check_timezone(value)


def create_key_file(path: Path) -> None:
    """Write a new key to `path` unless another process did first. The key is written
    whole to a file of its own, then linked into place: two commands starting at once in
    a new project never read a half-written key, and both use the one that won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked its key first
            os.link(draft, path)
    finally:
        os.unlink(draft)


def check_key_strength(key: bytes, where: str) -> None:
    advice = (
        "unset it to have one generated, or use "
        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    )
    if len(key) < MIN_SECRET_KEY_BYTES:
        raise ValueError(
            f"{where} is {len(key)} bytes; a signing key needs at least "
            f"{MIN_SECRET_KEY_BYTES} ({advice})"
        )
    if not key.strip():
        raise ValueError(f"{where} is blank ({len(key)} spaces or other blanks); {advice}")
    distinct = len(set(key))
    if distinct < MIN_SECRET_KEY_DISTINCT_BYTES:
        raise ValueError(
            f"{where} has only {distinct} different bytes in {len(key)}: too easy to guess; "
            f"a signing key needs at least {MIN_SECRET_KEY_DISTINCT_BYTES} ({advice})"
        )


def hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1****@", url)
