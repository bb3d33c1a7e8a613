"""The person a privacy request is about: their normalized address and a keyed hash."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func, or_

from cxops.audience.contacts import normalize_email
from cxops.errors import ConfigError
from cxops.store.erasures import PLACEHOLDER_DOMAIN, PSEUDONYM_PREFIX, erasure_digest


@dataclass(frozen=True, slots=True)
class Subject:
    """`email` as the store keeps it; `digest` identifies them without the address."""

    email: str
    digest: str

    @classmethod
    def of(cls, raw: str, key: bytes) -> Subject:
        email = normalize_email(raw)
        if email is None:
            raise ConfigError(f"expected an email address, found {raw!r}")
        return cls(email, erasure_digest(email, key))

    @property
    def pseudonym(self) -> str:
        """What replaces their contact key: stable per person, meaningless without the key."""
        return f"{PSEUDONYM_PREFIX}{self.digest[:16]}"

    @property
    def placeholder_email(self) -> str:
        """What replaces their address in columns that must hold one (never deliverable)."""
        return f"erased-{self.digest[:16]}{PLACEHOLDER_DOMAIN}"


def mentions(column: Any, email: str) -> Any:
    """SQL: the column's text (a JSON column's serialized text) contains `email`."""
    as_text = func.lower(cast(column, Text))
    forms = {email, json.dumps(email)[1:-1]}  # JSON escapes non-ASCII local parts
    return or_(*(as_text.contains(form, autoescape=True) for form in sorted(forms)))
