"""What the report reads: the later answers of task contacts come by index lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from cxops.analysis.data import later_scores
from cxops.spec import find_survey
from cxops.store.db import open_store

REPO = Path(__file__).resolve().parent.parent


def test_later_answers_are_looked_up_by_contact_on_a_store_without_statistics(
    tmp_path: Path,
) -> None:
    # A fresh store has no ANALYZE statistics; SQLite then takes whichever index it
    # guesses, and a scan of the survey's answers would give the same rows, only slower.
    survey = find_survey("nps-quarterly", REPO / "surveys", REPO, checks=False)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    statements: list[tuple[str, Any]] = []
    event.listen(
        store.engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, params, _ctx, _many: statements.append((sql, params)),
    )
    try:
        with store.connect() as conn:
            assert later_scores(conn, survey) == {}
            (sql, params), *_ = [s for s in statements if "FROM responses" in s[0]]
            raw = conn.connection.dbapi_connection
            assert raw is not None
            plan = " ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    finally:
        store.dispose()
    assert "SEARCH responses USING INDEX ix_responses_contact_survey" in plan, plan
