"""A sync with nothing new stops at the block sums, before dlt; a sync that did not finish
leaves no state, so the next one takes the whole path."""

from __future__ import annotations

from typing import Any

import pytest

from cxops.project import open_project
from cxops.store.db import open_store
from cxops.sync.project import sync_project
from cxops.sync.run import SyncResult
from cxops.testing.followup import add_response, at, edit_response, write_survey

WHEN = at("2026-11-23T08:00:00+00:00")
LATER = at("2026-11-24T09:30:00+00:00")
URL = "duckdb:///w.duckdb"


def _sync(project: Any) -> SyncResult:
    with open_project(project.settings()) as context:
        return sync_project(context, URL)


def _no_dlt(*_args: Any) -> Any:
    raise AssertionError("the sync built a dlt pipeline")


def test_nothing_new_stops_before_dlt_and_an_unfinished_sync_leaves_no_state(project, monkeypatch):
    write_survey(project.root)
    store = open_store(project.settings().store_url)
    try:
        first = add_response(store, "c1", {"score": 3}, when=WHEN)
        add_response(store, "c2", {"score": 9}, when=WHEN)
        assert _sync(project).rows["responses"] == 2

        monkeypatch.setattr("cxops.sync.run.pipeline_for", _no_dlt)
        assert _sync(project).rows == {}, "nothing new: the sums alone answered"

        edit_response(store, first, {"score": 4}, LATER)
        with pytest.raises(AssertionError, match="built a dlt pipeline"):
            _sync(project)  # something new goes to dlt (here it fails before loading)
        monkeypatch.undo()
        assert _sync(project).rows == {"responses": 1, "answers": 1}

        monkeypatch.setattr("cxops.sync.run.pipeline_for", _no_dlt)
        assert _sync(project).rows == {}
    finally:
        store.dispose()
