"""Events posted to the collector (`POST /api/v1/events`) and the API keys that post them.

An event is stored with an insert that does nothing on conflict of its `event_id`, all
of a batch in one transaction: an id seen before (in an earlier batch, in the same
batch, or in a batch racing this one) counts as a duplicate and changes nothing.

Keys are random (`cx_` and 32 bytes, URL-safe base64), shown once and kept only as
HMAC-SHA256 under the project's signing key, so the store does not hold a usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cxops.errors import ConfigError
from cxops.store.db import Store
from cxops.store.models import ApiKey, InboundEvent
from cxops.store.sql import session_insert

KEY_PREFIX = "cx_"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One valid event of a posted batch."""

    event_id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing a batch did."""

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a live key belongs to, and the survey it is limited to (None: any)."""

    name: str
    survey_id: str | None


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An API key as `cxops keys list` shows it (never the key itself)."""

    name: str
    survey_id: str | None
    created_at: datetime
    revoked_at: datetime | None


def key_hash(key: str, signing_key: bytes) -> str:
    """The keyed hash an API key is stored under."""
    return hmac.new(signing_key, key.encode(), hashlib.sha256).hexdigest()


def create_key(
    store: Store, name: str, signing_key: bytes, now: datetime, survey_id: str | None = None
) -> str:
    """A new key named `name` (stored hashed), returned once; ConfigError if the name is taken."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        with store.session(write=True) as session:
            session.add(
                ApiKey(
                    name=name,
                    key_hash=key_hash(key, signing_key),
                    survey_id=survey_id,
                    created_at=now,
                    revoked_at=None,
                )
            )
    except IntegrityError:
        raise ConfigError(f"an API key named {name!r} exists already") from None
    return key


def list_keys(store: Store) -> list[KeyRow]:
    """Every key, revoked ones too, by name."""
    with store.session() as session:
        rows = session.execute(
            select(ApiKey.name, ApiKey.survey_id, ApiKey.created_at, ApiKey.revoked_at).order_by(
                ApiKey.name
            )
        ).all()
    return [KeyRow(row.name, row.survey_id, row.created_at, row.revoked_at) for row in rows]


def revoke_key(store: Store, name: str, now: datetime) -> bool:
    """Revoke the key `name`; False when there is no such key (revoking twice keeps the
    first revocation time)."""
    with store.session(write=True) as session:
        found = session.scalar(select(ApiKey.id).where(ApiKey.name == name))
        if found is None:
            return False
        session.execute(
            update(ApiKey)
            .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return True


def key_holder(store: Store, key: str, signing_key: bytes) -> KeyHolder | None:
    """The live (not revoked) key `key`'s name and survey, or None."""
    digest = key_hash(key, signing_key)
    with store.session() as session:
        row = session.execute(
            select(ApiKey.name, ApiKey.survey_id).where(
                ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)
            )
        ).first()
    return None if row is None else KeyHolder(row.name, row.survey_id)


def store_events(
    store: Store,
    events: Sequence[NewEvent],
    credential: str,
    now: datetime,
    survey_id: str | None = None,
) -> Stored:
    """Store `events` in one transaction, each event id at most once; `survey_id` (a key
    limited to one survey): only that survey plans invitations from them."""
    accepted = 0
    with store.session(write=True) as session:
        table = InboundEvent.__table__  # Core: RETURNING gives no row for a conflict
        insert = (
            session_insert(session, table)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(table.c.id)
        )
        for event in events:
            inserted = session.execute(
                insert.values(
                    event_id=event.event_id,
                    type=event.type,
                    occurred_at=event.occurred_at,
                    received_at=now,
                    data=event.data,
                    credential=credential,
                    survey_id=survey_id,
                )
            ).first()
            accepted += inserted is not None
    return Stored(accepted=accepted, duplicates=len(events) - accepted)


def stored_events(store: Store) -> list[InboundEvent]:
    """Every stored event, oldest first (tests and inspection)."""
    with store.session() as session:
        rows = list(session.scalars(select(InboundEvent).order_by(InboundEvent.id)))
        session.expunge_all()
    return rows
