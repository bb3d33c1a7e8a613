"""Erased people (`cxops forget`): known by a keyed hash of their address, never the address.

An erasure is a suppression that holds no address: `erasures.subject` is an HMAC-SHA256
of the normalized address under the project's secret key, so a source export that
brings the person back is recognised (`ErasedAddresses`) while the store cannot say who
was erased. Rows that must keep a value get marks that no real row has: the contact
key becomes `erased:…`, an address column `erased-…@erased.invalid`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from cxops.store.models import Erasure
from cxops.store.suppressions import address_key

#: The exclusion reason of an erased person (strongest of all).
ERASED = "erased"
#: What an erased person's open tasks are withdrawn with.
ERASED_NOTE = "person erased"
PSEUDONYM_PREFIX = "erased:"
PLACEHOLDER_DOMAIN = "@erased.invalid"


def erasure_digest(email: str, key: bytes) -> str:
    """The keyed hash an erasure of `email` is recorded under."""
    message = b"cxops-erasure:" + address_key(email).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def is_pseudonym(contact_key: str) -> bool:
    """A contact key `cxops forget` wrote in place of an erased person's."""
    return contact_key.startswith(PSEUDONYM_PREFIX)


def is_placeholder(email: str) -> bool:
    """An address `cxops forget` wrote in place of an erased person's (never deliverable)."""
    return email.endswith(PLACEHOLDER_DOMAIN)


class ErasedAddresses:
    """Membership of addresses in the erasures, by keyed hash (the key is read only when
    someone was erased: `cxops plan` in a project without erasures needs none)."""

    def __init__(self, digests: frozenset[str], key: Callable[[], bytes]):
        self._digests = digests
        self._key = key() if digests else b""

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __contains__(self, email: object) -> bool:
        if not self._digests or not isinstance(email, str):
            return False
        return is_placeholder(email) or erasure_digest(email, self._key) in self._digests


def erased_addresses(conn: Connection, key: Callable[[], bytes]) -> ErasedAddresses:
    """Every erasure recorded in the store."""
    return ErasedAddresses(frozenset(conn.execute(select(Erasure.subject)).scalars()), key)


def erased_at(conn: Connection, email: str, key: Callable[[], bytes]) -> datetime | None:
    """When `email` was first erased, None when it never was (the key is read only when
    the store records some erasure)."""
    if conn.execute(select(Erasure.id).limit(1)).first() is None:
        return None
    digest = erasure_digest(email, key())
    return conn.execute(
        select(Erasure.erased_at)
        .where(Erasure.subject == digest)
        .order_by(Erasure.erased_at)
        .limit(1)
    ).scalar()
