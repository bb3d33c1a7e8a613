"""What the collector's routes share: settings, the store (opened on first use), surveys."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from cxops.collect.answers import FormQuestion
from cxops.collect.events import events_verifier
from cxops.collect.webhooks import SignatureVerifier
from cxops.settings import Settings
from cxops.spec.lookup import project_surveys
from cxops.spec.models import Survey
from cxops.store.db import Store, open_store

log = logging.getLogger("cxops.collect")

T = TypeVar("T")
#: At most this many requests use the store at once (fewer when the pool is smaller).
_DB_THREADS = 16
#: A send naming a survey not loaded re-reads the surveys folder at most this often.
_RELOAD_SECONDS = 10.0


class CollectorState:
    """Shared by every request of one app; thread-safe."""

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self.signing_key: bytes = settings.signing_key()
        key = settings.sendgrid_webhook_public_key
        self.webhook_verifier = SignatureVerifier(key) if key else None
        self.events_verifier = events_verifier(settings)
        if key is None and settings.sendgrid_webhook_insecure:
            log.warning(
                "SendGrid webhook INSECURE: unsigned events are accepted "
                "(CXOPS_SENDGRID_WEBHOOK_INSECURE=true); set CXOPS_SENDGRID_WEBHOOK_PUBLIC_KEY"
            )
        self._store = store
        self._lock = threading.Lock()
        self._surveys: dict[str, Survey] = {}
        #: Form questions by survey (keyed by identity; the survey is kept alive with them).
        self._questions: dict[int, tuple[Survey, list[FormQuestion]]] = {}
        self._loaded_at: float | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    async def run_db(self, function: Callable[..., T], *args: Any) -> T:
        """Run store work in a worker thread, at most as many at once as the pool has
        connections: beyond that, SQLAlchemy's overflow connections would be opened and
        closed per request (a new server process each on PostgreSQL)."""
        if self._limiter is None:
            store = await anyio.to_thread.run_sync(self.store)
            pool_size = getattr(store.engine.pool, "size", lambda: _DB_THREADS)()
            self._limiter = anyio.CapacityLimiter(max(1, min(pool_size, _DB_THREADS)))
        return await anyio.to_thread.run_sync(partial(function, *args), limiter=self._limiter)

    def now(self) -> datetime:
        return self.settings.clock()

    def store(self) -> Store:
        """The store, opened (and brought up to date) on first use; StoreError if it cannot be."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings.store_url)
        return self._store

    def survey(self, survey_id: str) -> Survey | None:
        """The project's survey with this id (cached; re-read when an unknown id shows up)."""
        found = self._surveys.get(survey_id)
        if found is not None:
            return found
        with self._lock:
            stale = self._loaded_at is None or time.monotonic() - self._loaded_at > _RELOAD_SECONDS
            if stale:
                loaded = project_surveys(
                    self.settings.surveys_path, self.settings.project_dir, checks=False
                )
                for path, reason in loaded.skipped.items():
                    log.warning("survey file skipped by the collector: %s: %s", path, reason)
                self._surveys = loaded.surveys
                self._loaded_at = time.monotonic()
        return self._surveys.get(survey_id)

    def questions(
        self, survey: Survey, build: Callable[[Survey], list[FormQuestion]]
    ) -> list[FormQuestion]:
        """`build(survey)` (the form questions), computed once per loaded survey."""
        known = self._questions.get(id(survey))
        if known is not None and known[0] is survey:
            return known[1]
        questions = build(survey)
        if len(self._questions) > 256:
            self._questions.clear()  # surveys were reloaded many times: drop the old ones
        self._questions[id(survey)] = (survey, questions)
        return questions

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
