"""Opening the store: migrations, schema, concurrency, errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from cxops.errors import StoreError
from cxops.store.db import Store, alembic_config, open_store, store_exists
from cxops.store.models import Base

OPEN_STORE = """
import sys
from pathlib import Path
from cxops.store.db import open_store
go = Path(sys.argv[2])
while not go.exists():
    pass
open_store(sys.argv[1]).dispose()
print("ok")
"""


HEAD = "0024_event_scope"


def test_the_revisions_form_one_line_to_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD]
    assert [r.revision for r in script.walk_revisions()] == [
        HEAD,
        "0023_crm_contacts",
        "0022_variants",
        "0021_webhooks",
        "0020_trigger_dedupe",
        "0019_events",
        "0018_wave_pause",
        "0017_due_sends",
        "0016_task_notes",
        "0013_client_evidence",
        "0011_notification_claims",
        "0010_responses_contact_index",
        "0009_lowercase_addresses",
        "0008_privacy_health",
        "0007_webhook_rejects",
        "0006_task_assignment_snooze",
        "0005_interviews",
        "0004_responses_confirmed_at",
        "0003_drop_email_sent_index",
        "0002_claim_order_index",
        "0001_initial",
    ]


def test_the_head_read_from_the_files_is_alembics(tmp_path: Path) -> None:
    from cxops.store import db

    assert db.shipped_head() == db.head_revision() == HEAD
    # A line of revisions with a merge (two parents) is not read: Alembic is asked.
    (tmp_path / "versions").mkdir()
    for name, parent in (("a1", "None"), ("b1", '"a1"'), ("c1", '("a1", "b1")')):
        text = f'revision: str = "{name}"\ndown_revision = {parent}\n'
        (tmp_path / "versions" / f"{name}.py").write_text(text, encoding="utf-8")
    original = db.MIGRATIONS_DIR
    db.MIGRATIONS_DIR = tmp_path
    try:
        assert db._read_shipped_head() is None
        (tmp_path / "versions" / "c1.py").write_text(
            'revision = "c1"\ndown_revision: str | None = "b1"\n', encoding="utf-8"
        )
        assert db._read_shipped_head() == "c1"
    finally:
        db.MIGRATIONS_DIR = original


def test_a_current_store_is_opened_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).dispose()
    code = (
        "import sys; from cxops.store.db import open_store; "
        f"open_store({url!r}).dispose(); print('alembic' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert completed.stdout.strip() == "False"
    with sqlite3.connect(tmp_path / "store.db") as conn:  # an older revision: migrated
        conn.execute("UPDATE alembic_version SET version_num = '0016_task_notes'")
    with open_store(url) as store:
        assert store.revision() == HEAD


def test_upgrading_a_populated_store_keeps_its_rows(store_url: str) -> None:
    from datetime import UTC, datetime

    from alembic import command

    from cxops.store.models import Suppression

    store = Store(store_url)
    try:
        with store.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001_initial")
        with store.session() as session:
            session.add(
                Suppression(
                    email="kept@example.com",
                    reason="unsubscribed",
                    source="test",
                    created_at=datetime.now(UTC),
                )
            )
        store.upgrade()
        assert store.revision() == HEAD
        with store.session() as session:
            assert session.get(Suppression, "kept@example.com").reason == "unsubscribed"
        with store.engine.connect() as conn:
            (claim,) = [
                i for i in inspect(conn).get_indexes("sends") if i["name"] == "ix_sends_claim"
            ]
        assert claim["column_names"][-2:] == ["batch", "id"]
    finally:
        store.dispose()


def test_migrated_schema_matches_the_models(store_url: str) -> None:
    store = open_store(store_url)
    try:
        assert store.revision() == HEAD
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        store.dispose()


def test_upgrade_twice_changes_nothing(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upgrade()
        with store.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    assert versions == [(HEAD,)]


def test_a_store_made_by_create_all_is_stamped_then_upgraded(store_url: str) -> None:
    engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    Base.metadata.create_all(engine)
    engine.dispose()
    with open_store(store_url) as store:
        assert store.revision() == HEAD


def test_two_processes_opening_a_fresh_store_at_once(store_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE, store_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    go.touch()
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert out.strip() == "ok"
    with Store(store_url) as store:
        assert store.revision() == HEAD


def test_store_exists_creates_nothing_for_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cxops.db"
    url = f"sqlite:///{path}"
    assert store_exists(url) is False
    assert not path.parent.exists()
    open_store(url).dispose()
    assert store_exists(url) is True


def test_store_exists_reads_an_existing_file_without_changing_it(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE unrelated (x INTEGER)")
    conn.commit()
    conn.close()
    assert store_exists(f"sqlite:///{path}") is False
    conn = sqlite3.connect(path)
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert mode == "delete"
    assert tables == ["unrelated"]


def test_store_exists_on_postgresql_creates_nothing(postgres_url: str) -> None:
    assert store_exists(postgres_url) is False
    with Store(postgres_url) as store, store.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    open_store(postgres_url).dispose()
    assert store_exists(postgres_url) is True


def test_store_exists_is_false_for_a_missing_postgresql_database(postgres_url: str) -> None:
    base, _, _ = postgres_url.rpartition("/")
    assert store_exists(f"{base}/cxops_never_created_db") is False


def test_unreachable_postgresql_is_a_store_error_without_the_password() -> None:
    url = "postgresql+psycopg://cxops:hunter2@127.0.0.1:1/cxops?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert "hunter2" not in message
    assert "cxops:****@127.0.0.1:1/cxops" in message
    with pytest.raises(StoreError):
        store_exists(url)


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y"])
def test_bad_url_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError, match="cannot open store"):
        open_store(url)


@pytest.mark.parametrize("url", ["mysql://u:secret@db/x", "oracle://db/x", "nosuchdb://x/y"])
def test_a_database_cxops_does_not_store_in_is_named_with_what_is_expected(url: str) -> None:
    with pytest.raises(StoreError) as caught:  # (mysql: not "No module named 'MySQLdb'")
        open_store(url)
    assert "expected sqlite:///PATH or postgresql://USER@HOST/DATABASE" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_plain_postgresql_url_means_psycopg() -> None:
    store = Store("postgresql://u:p@localhost/db")
    assert store.engine.dialect.driver == "psycopg"
    assert store.safe_url == "postgresql+psycopg://u:****@localhost/db"
    store.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_write_session_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(f"sqlite:///{path}") as store:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with store.session(write=True) as session:
                session.execute(text("SELECT 1"))  # a read only: the lock must be held already
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            other.execute("BEGIN IMMEDIATE")  # released on commit
            other.execute("ROLLBACK")
            with store.session() as session:
                session.execute(text("SELECT 1"))
                other.execute("BEGIN IMMEDIATE")  # a read session leaves writers alone
                other.execute("ROLLBACK")
        finally:
            other.close()


def test_sqlite_ddl_is_transactional(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        with pytest.raises(RuntimeError), store.connect(write=True) as conn:
            conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
            raise RuntimeError("roll back")
        with store.engine.connect() as conn:
            assert not inspect(conn).has_table("scratch")
