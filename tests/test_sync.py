"""`cxops sync` into real DuckDB, PostgreSQL and Parquet destinations: after every step
the warehouse's counts equal the store's, keys are unique, and a sync with nothing new
writes no row."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from sqlalchemy import delete, func, select

from cxops.errors import ConfigError
from cxops.followup.apply import apply_rules
from cxops.project import open_project
from cxops.store.db import open_store
from cxops.store.models import Response, Send, Suppression, Task
from cxops.store.task_events import record_event
from cxops.sync.project import sync_project
from cxops.sync.run import SyncResult
from cxops.sync.tables import TABLES, warehouse_reference
from cxops.testing.followup import add_response, at, edit_response, write_survey
from cxops.testing.services import libpq_url

WHEN = at("2026-11-23T08:00:00+00:00")
LATER = at("2026-11-24T09:30:00+00:00")
REPO = Path(__file__).resolve().parents[1]


# -- destinations read directly, never through cxops ------------------------------


class Warehouse:
    """One destination as the tests read it: counts and keys per table."""

    def __init__(self, url: str, reader: Any):
        self.url = url
        self._reader = reader

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._reader(sql)
        return rows

    def tables(self) -> set[str]:
        return {name for (name,) in self.query("SELECT table_name FROM t_tables")}

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) FROM {table}")[0][0])

    def distinct_keys(self, table: str) -> int:
        keys = next(t for t in TABLES if t.name == table).primary_key
        listed = ", ".join(keys)
        return int(
            self.query(f"SELECT count(*) FROM (SELECT DISTINCT {listed} FROM {table}) k")[0][0]
        )


def duckdb_warehouse(path: Path) -> Warehouse:
    def read(sql: str) -> list[tuple[Any, ...]]:
        sql = sql.replace(
            "FROM t_tables",
            "FROM information_schema.tables WHERE table_schema = 'cxops'",
        )
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("SET schema = 'cxops'")
            return con.execute(sql).fetchall()

    return Warehouse(f"duckdb:///{path}", read)


def postgres_warehouse(base_url: str, schema: str) -> Warehouse:
    url = libpq_url(base_url)

    def read(sql: str) -> list[tuple[Any, ...]]:
        sql = sql.replace(
            "FROM t_tables",
            f"FROM information_schema.tables WHERE table_schema = '{schema}'",
        )
        with psycopg.connect(url) as con:
            con.execute(f'SET search_path = "{schema}"')
            return con.execute(sql).fetchall()

    return Warehouse(f"{url}?schema={schema}", read)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, project: Any) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield duckdb_warehouse(project.root / "wh.duckdb")
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"wh_{uuid.uuid4().hex[:8]}"
    yield postgres_warehouse(base, schema)
    with psycopg.connect(libpq_url(base), autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}_staging" CASCADE')


# -- the store's side ---------------------------------------------------------------


def store_counts(store_url: str) -> dict[str, int]:
    """What each warehouse table must hold, counted from the store."""
    store = open_store(store_url)
    try:
        with store.session() as session:
            answers = sum(len(a or {}) for a in session.scalars(select(Response.answers)))
            events = sum(len(e or []) for e in session.scalars(select(Task.events)))
            return {
                "invitations": session.scalar(select(func.count()).select_from(Send)) or 0,
                "responses": session.scalar(select(func.count()).select_from(Response)) or 0,
                "answers": answers,
                "tasks": session.scalar(select(func.count()).select_from(Task)) or 0,
                "task_events": events,
                "suppressions": session.scalar(select(func.count()).select_from(Suppression)) or 0,
            }
    finally:
        store.dispose()


def assert_in_step(warehouse: Warehouse, store_url: str, surveys: int) -> None:
    expected = {**store_counts(store_url), "surveys": surveys}
    present = warehouse.tables()
    found = {t: warehouse.count(t) if t in present else 0 for t in expected}
    assert found == expected
    for table in expected:
        if table in present:
            assert warehouse.distinct_keys(table) == found[table], f"duplicate keys in {table}"


def sync(project: Any, url: str) -> SyncResult:
    with open_project(project.settings()) as context:
        return sync_project(context, url)


def seed(project: Any, store_url: str) -> list[int]:
    write_survey(project.root)
    store = open_store(store_url)
    try:
        ids = [
            add_response(store, "c1", {"score": 3, "reason": "slow support"}, when=WHEN),
            add_response(store, "c2", {"score": 9}, when=WHEN),
            add_response(store, "c3", {"score": 10, "reason": "great"}, when=WHEN),
        ]
        with store.session(write=True) as session:
            session.add(
                Suppression(
                    email="c2@customer.example",
                    reason="unsubscribed",
                    source="collector",
                    created_at=WHEN,
                )
            )
        settings = project.settings()
        with open_project(settings) as context:
            survey = context.surveys.find("nps-test")
        apply_rules(settings, store, survey, now=WHEN)
    finally:
        store.dispose()
    return ids


# -- the tests ----------------------------------------------------------------------


def test_sync_loads_changes_only_and_keeps_counts_with_the_store(project, warehouse):
    store_url = project.settings().store_url
    ids = seed(project, store_url)

    first = sync(project, warehouse.url)
    assert first.rows == {
        "surveys": 1,
        "invitations": 3,
        "responses": 3,
        "answers": 5,
        "tasks": 3,  # the detractor, and two promoters asked for a reference
        "suppressions": 1,
    }
    assert_in_step(warehouse, store_url, surveys=1)
    assert warehouse.query("SELECT score FROM responses ORDER BY response_id") == [
        (3.0,),
        (9.0,),
        (10.0,),
    ]

    assert sync(project, warehouse.url).rows == {}, "nothing new: no row written"
    assert_in_step(warehouse, store_url, surveys=1)

    store = open_store(store_url)
    try:
        edit_response(store, ids[1], {"score": 8, "reason": "ok"}, LATER)
        add_response(store, "c4", {"score": 7}, when=LATER)
        with store.session(write=True) as session:
            task = session.scalars(select(Task).where(Task.contact_key == "c1")).one()
            task.status, task.outcome, task.closed_at = "closed", "fixed", LATER
            record_event(task, "closed", LATER, outcome="fixed", text="called back")
            session.execute(delete(Suppression))
    finally:
        store.dispose()
    changed = sync(project, warehouse.url)
    assert changed.rows == {
        "invitations": 1,
        "responses": 2,
        "answers": 3,  # c2's score changed and a reason appeared; c4's score
        "tasks": 1,
        "task_events": 1,
        "suppressions": 1,
    }
    assert changed.deleted == {"suppressions": 1}
    assert_in_step(warehouse, store_url, surveys=1)
    assert warehouse.query("SELECT status, outcome FROM tasks WHERE contact_key = 'c1'") == [
        ("closed", "fixed")
    ]
    assert warehouse.query("SELECT kind, outcome FROM task_events") == [("closed", "fixed")]

    # A question added to the survey: a new survey version, its answers new rows.
    survey_file = project.root / "surveys" / "nps-test.yaml"
    text = survey_file.read_text(encoding="utf-8")
    survey_file.write_text(
        text.replace(
            "invitation:",
            '  - {id: plan, type: single, text: "Plan?", options: [team, pro], required: false}\n'
            "invitation:",
        ),
        encoding="utf-8",
    )
    store = open_store(store_url)
    try:
        add_response(store, "c5", {"score": 6, "plan": "pro"}, when=LATER)
    finally:
        store.dispose()
    evolved = sync(project, warehouse.url)
    assert evolved.rows["surveys"] == 1 and evolved.rows["answers"] == 2
    assert_in_step(warehouse, store_url, surveys=2)
    assert warehouse.query(
        "SELECT question_type, value_text FROM answers WHERE question_id = 'plan'"
    ) == [("single", "pro")]
    assert sync(project, warehouse.url).rows == {}


def test_cli_sync_prints_rows_per_table_and_defaults_to_the_project_duckdb(project):
    store_url = project.settings().store_url
    seed(project, store_url)
    first = project.run(["sync", "--json"]).json
    assert first["rows"]["invitations"] == 3 and first["rows"]["answers"] == 5
    assert (project.root / "warehouse.duckdb").is_file()
    assert_in_step(duckdb_warehouse(project.root / "warehouse.duckdb"), store_url, surveys=1)
    again = project.run(["sync"]).stdout
    assert "nothing new" in again


def test_addresses_and_names_only_when_the_project_says_so(project):
    store_url = project.settings().store_url
    seed(project, store_url)
    plain = duckdb_warehouse(project.root / "plain.duckdb")
    sync(project, plain.url)
    columns = set(
        plain.query(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'cxops'"
        )
    )
    assert ("invitations", "contact_key") in columns and ("tasks", "assignee") in columns
    personal = {("invitations", "email"), ("invitations", "name"), ("suppressions", "email")}
    personal |= {("tasks", "title"), ("tasks", "note")}
    assert not personal & columns
    assert b"@customer.example" not in (project.root / "plain.duckdb").read_bytes()

    with (project.root / "pyproject.toml").open("a", encoding="utf-8") as file:
        file.write("\n[tool.cxops.sync]\npersonal_data = true\n")
    with pytest.raises(ConfigError, match="personal_data false"):
        sync(project, plain.url)
    personal = duckdb_warehouse(project.root / "personal.duckdb")
    sync(project, personal.url)
    assert personal.query("SELECT email, name FROM invitations ORDER BY send_id LIMIT 0") == []
    emails = {e for (e,) in personal.query("SELECT email FROM invitations")}
    assert emails == {f"c{i}@customer.example" for i in (1, 2, 3)}


def test_parquet_destination_appends_versions_and_tombstones(project):
    store_url = project.settings().store_url
    seed(project, store_url)
    folder = project.root / "pq"
    assert sync(project, "parquet:///pq").rows["responses"] == 3
    assert sync(project, "parquet:///pq").rows == {}
    store = open_store(store_url)
    try:
        with store.session(write=True) as session:
            session.execute(delete(Suppression))
    finally:
        store.dispose()
    assert sync(project, "parquet:///pq").deleted == {"suppressions": 1}
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE _cxops_deleted) FROM read_parquet(?)",
            [str(folder / "cxops" / "suppressions" / "*.parquet")],
        ).fetchall()
        responses = con.execute(
            "SELECT count(*) FROM read_parquet(?)",
            [str(folder / "cxops" / "responses" / "*.parquet")],
        ).fetchall()
    assert rows == [(2, 1)] and responses == [(3,)]


def test_a_destination_url_that_is_no_destination_is_refused(project):
    result = project.run(["sync", "--to", "mysql://db/x"], expect_pass=False)
    assert "expected duckdb:///PATH, postgresql://…, parquet:///DIR or dlt:NAME" in result.output


def test_docs_warehouse_holds_the_generated_tables():
    text = (REPO / "docs" / "warehouse.md").read_text(encoding="utf-8")
    (generated,) = re.findall(
        r"do not edit by hand -->\n(.*?)<!-- end of warehouse tables -->", text, re.S
    )
    assert generated == warehouse_reference(), (
        "docs/warehouse.md is out of date: paste cxops.sync.tables.warehouse_reference() into it"
    )
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/warehouse.md" in readme


def test_sync_json_is_plain_data(project):
    seed(project, project.settings().store_url)
    result = sync(project, "duckdb:///w.duckdb")
    assert json.loads(json.dumps(result.as_dict()))["rows"]["surveys"] == 1


# -- a killed sync --------------------------------------------------------------------


def _waiting_on(url: str, schema: str, table: str) -> list[int]:
    """Backends waiting for a lock on `schema.table`."""
    with psycopg.connect(url) as con:
        rows = con.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT l.granted AND n.nspname = %s AND c.relname = %s",
            (schema, table),
        ).fetchall()
    return [pid for (pid,) in rows]


@pytest.mark.postgres
def test_a_sync_killed_mid_load_resumes_without_duplicates(project, postgres_url):
    """The load is held on a table lock (so the kill lands inside it, every time), the
    sync is killed with SIGKILL, its server backend ended; the next sync finishes the
    interrupted load and the warehouse equals the store, each key once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    store_url = project.settings().store_url
    seed(project, store_url)
    base = libpq_url(postgres_url)
    schema = f"wh_{uuid.uuid4().hex[:8]}"
    warehouse = postgres_warehouse(postgres_url, schema)
    try:
        sync(project, warehouse.url)
        store = open_store(store_url)
        try:
            for i in range(200):
                add_response(store, f"n{i}", {"score": i % 11, "reason": f"r{i}"}, when=LATER)
        finally:
            store.dispose()
        with psycopg.connect(base) as holder:
            # Reads go on (the sync compares with the destination); its merge waits.
            holder.execute(f'LOCK TABLE "{schema}"."responses" IN EXCLUSIVE MODE')
            process = subprocess.Popen(
                [sys.executable, "-m", "cxops", "sync", "--to", warehouse.url],
                cwd=project.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 300
            waiting: list[int] = []
            while not waiting and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)  # polling a condition, not timing anything
                waiting = _waiting_on(base, schema, "responses")
            assert waiting, f"the sync never reached the load: {process.communicate()[0]!r}"
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            assert process.returncode == -signal.SIGKILL
            with psycopg.connect(base, autocommit=True) as admin:
                for pid in waiting:  # its server side dies with it, as in a crash
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            holder.rollback()
        assert warehouse.count("responses") == 3, "the killed load never merged responses"
        resumed = sync(project, warehouse.url)
        assert resumed.resumed, "the next sync finished the interrupted load"
        assert_in_step(warehouse, store_url, surveys=1)
        assert sync(project, warehouse.url).rows == {}
    finally:
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}_staging" CASCADE')


# -- erasure ----------------------------------------------------------------------------

PERSON = "c1@customer.example"
NAME = "Zoltan Quixwell"
SAID = "Quixwell-support-was-slow"


def _seed_person(project: Any) -> str:
    with (project.root / "pyproject.toml").open("a", encoding="utf-8") as file:
        file.write("\n[tool.cxops.sync]\npersonal_data = true\n")
    write_survey(project.root)
    store_url = project.settings().store_url
    store = open_store(store_url)
    try:
        add_response(store, "c1", {"score": 3, "reason": SAID}, when=WHEN, contact={"name": NAME})
        add_response(store, "c2", {"score": 9, "reason": "fine"}, when=WHEN)
    finally:
        store.dispose()
    return store_url


def _duckdb_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


def _folder_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _postgres_bytes(url: str, schemas: tuple[str, ...]) -> bytes:
    """The bytes of every table, index and TOAST file of `schemas` after a checkpoint
    (read by the server: `pg_read_binary_file` needs the test server's superuser)."""
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CHECKPOINT")
        paths = con.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'i', 't') "
            "UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(%s) AND c.reltoastrelid <> 0",
            (list(schemas), list(schemas)),
        ).fetchall()
        return b"".join(
            con.execute("SELECT pg_read_binary_file(%s)", (path,)).fetchone()[0]
            for (path,) in paths
            if path
        )


def _leaks(raw: bytes) -> list[str]:
    return [s for s in (PERSON, NAME, SAID) if s.encode() in raw]


@pytest.mark.postgres
def test_forget_erases_the_person_in_every_destination_to_the_last_byte(project, postgres_url):
    store_url = _seed_person(project)
    base = libpq_url(postgres_url)
    schema = f"wh_{uuid.uuid4().hex[:8]}"
    pg = postgres_warehouse(postgres_url, schema)
    duck = project.root / "warehouse.duckdb"
    try:
        for url in ("duckdb:///warehouse.duckdb", "parquet:///pq", pg.url):
            sync(project, url)
        # Each destination holds the person's address, name and words before the erasure.
        assert _leaks(_duckdb_bytes(duck)) == [PERSON, NAME, SAID]
        assert _leaks(_folder_bytes(project.root / "pq")) == [PERSON, NAME, SAID]
        assert _leaks(_postgres_bytes(base, (schema,))) == [PERSON, NAME, SAID]
        listed = project.run(["export", "person", PERSON]).json["sync_destinations"]
        assert {d["kind"] for d in listed} == {"duckdb", "parquet", "postgres"}
        assert all(d["addresses_and_names"] for d in listed)

        result = project.run(["forget", PERSON, "--json"]).json
        assert [d["status"] for d in result["sync_destinations"]] == ["erased"] * 3

        assert _leaks(_duckdb_bytes(duck)) == []
        assert _leaks(_folder_bytes(project.root / "pq")) == []
        assert _leaks(_postgres_bytes(base, (schema, f"{schema}_staging"))) == []
        assert _leaks(_folder_bytes(project.root / ".cxops" / "sync")) == []
        warehouse = duckdb_warehouse(duck)
        assert_in_step(warehouse, store_url, surveys=1)
        assert_in_step(pg, store_url, surveys=1)
        keys = {k for (k,) in warehouse.query("SELECT contact_key FROM responses")}
        assert "c2" in keys and any(k.startswith("erased:") for k in keys)
        assert warehouse.query("SELECT value_text FROM answers WHERE value_text = 'fine'")
        assert sync(project, "duckdb:///warehouse.duckdb").rows == {}
    finally:
        with psycopg.connect(base, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}_staging" CASCADE')


def test_forget_marks_an_unreachable_destination_and_the_next_sync_erases(project):
    _seed_person(project)
    duck = project.root / "warehouse.duckdb"
    sync(project, "duckdb:///warehouse.duckdb")
    with duckdb.connect(str(duck)):  # another process holds the file: forget cannot open it
        result = project.run(["forget", PERSON, "--json"]).json
    [outcome] = result["sync_destinations"]
    assert outcome["status"] == "pending"
    assert _leaks(_duckdb_bytes(duck)) == [PERSON, NAME, SAID]
    listed = project.run(["export", "person", "c2@customer.example"]).json
    assert listed["sync_destinations"][0]["erasures_pending"] == 1

    out = project.run(["sync", "--json"]).json
    assert out["rewritten_after_erasure"] is True
    assert _leaks(_duckdb_bytes(duck)) == []


def test_a_destination_of_another_schema_version_is_refused(project, monkeypatch):
    seed(project, project.settings().store_url)
    sync(project, "duckdb:///w.duckdb")
    monkeypatch.setattr("cxops.sync.run.SCHEMA_VERSION", 2)
    with pytest.raises(ConfigError, match="holds warehouse schema version 1, this cxops writes"):
        sync(project, "duckdb:///w.duckdb")


def test_destination_urls(tmp_path):
    from cxops.sync.destinations import parse_destination

    duck = parse_destination(None, tmp_path)
    assert duck.kind == "duckdb" and duck.path == (tmp_path / "warehouse.duckdb").resolve()
    assert parse_destination("duckdb:////srv/w.duckdb", tmp_path).path == Path("/srv/w.duckdb")
    pg = parse_destination("postgresql://cx:s3cret@db.internal:5433/analytics?schema=cx", tmp_path)
    assert (pg.kind, pg.dataset) == ("postgres", "cx")
    assert "s3cret" not in pg.safe_url and pg.safe_url.startswith(
        "postgresql://cx@db.internal:5433/"
    )
    assert parse_destination("postgresql://db/analytics", tmp_path).dataset == "cxops"
    assert parse_destination("parquet:///out", tmp_path).path == (tmp_path / "out").resolve()
    snowflake = parse_destination("dlt:snowflake", tmp_path)
    assert (snowflake.kind, snowflake.dlt_name) == ("dlt", "snowflake")
    for bad in ("duckdb://w.duckdb", "postgresql:///nohost", "s3://bucket"):
        with pytest.raises(ConfigError):
            parse_destination(bad, tmp_path)


def test_the_scheduled_sync_is_one_sync_of_the_project(project):
    from cxops.schedule.deploy import ENTRYPOINTS, WORK_POOL
    from cxops.sync.flow import sync_flow
    from cxops.sync.project import SYNC_INTERVAL_SECONDS, sync_deployment

    seed(project, project.settings().store_url)
    done = sync_flow.fn(project_dir=str(project.root))  # the flow's body, no Prefect run
    assert done["rows"]["invitations"] == 3
    assert (project.root / "warehouse.duckdb").is_file()
    deployment = sync_deployment(ENTRYPOINTS, WORK_POOL)
    assert deployment["entrypoint"] == f"{ENTRYPOINTS}:sync_flow"
    assert deployment["schedules"] == [{"interval": SYNC_INTERVAL_SECONDS}] == [{"interval": 3600}]
