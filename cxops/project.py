"""The project a command or a flow works in: built once, its connections closed on exit.

`open_project(settings)` is a context manager giving a `ProjectContext`: the settings,
the survey lookup bound to the project's directory (sources and templates are read
there, whatever the current folder), and a store and a channel opened on first use and
closed when the block ends, error or not. A command that never asks for the store
creates no database. The CLI builds one per command (`cxops.cli.app.project_context`);
flows and scripts open their own.

Nothing here is imported at module level beyond the settings and the spec lookup, so
that `cxops validate` still imports neither SQLAlchemy nor a channel's client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from cxops.spec.lookup import SurveyLookup

if TYPE_CHECKING:
    from cxops.channels.base import Channel
    from cxops.settings import Settings
    from cxops.store.db import Store


class ProjectContext:
    """One project's settings, surveys, and its store and channel once asked for."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.surveys = SurveyLookup.of(settings)
        self._store: Store | None = None
        self._channel: Channel | None = None

    @property
    def store(self) -> Store:
        """The project's store, created and migrated to the current schema on first use."""
        if self._store is None:
            from cxops.store.db import open_store

            self._store = open_store(self.settings.store_url)
        return self._store

    def existing_store(self) -> Store | None:
        """The store when it has been created (not migrated: read as it is); None, and
        nothing created, when it has not."""
        if self._store is None:
            from cxops.store.db import open_store, store_exists

            if not store_exists(self.settings.store_url):
                return None
            self._store = open_store(self.settings.store_url, upgrade=False)
        return self._store

    @property
    def channel(self) -> Channel:
        """The configured channel (`CXOPS_CHANNEL`), made on first use."""
        if self._channel is None:
            from cxops.channels import make_channel

            self._channel = make_channel(self.settings)
        return self._channel

    @property
    def store_opened(self) -> bool:
        """Whether the store has been opened (and not yet closed)."""
        return self._store is not None

    def close(self) -> None:
        """Close the channel, then the store, whichever were opened; the store is closed
        even when closing the channel fails."""
        channel, self._channel = self._channel, None
        store, self._store = self._store, None
        try:
            if channel is not None:
                channel.close()
        finally:
            if store is not None:
                store.dispose()


@contextmanager
def open_project(settings: Settings) -> Iterator[ProjectContext]:
    """A `ProjectContext` of `settings` for the block; its store and channel closed after."""
    project = ProjectContext(settings)
    try:
        yield project
    finally:
        project.close()
