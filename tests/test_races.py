"""Races through the real CLI, on SQLite and PostgreSQL, each checked in the store:

- two `followups` at once never make two tasks for one (response, rule);
- two `digest` at once never send one assignee two digests for one day;
- the unique constraint the first race relies on is in the migrations AND the models:
  a duplicate inserted directly is refused (this test fails if either loses it).
"""

from __future__ import annotations

import mailbox

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxops.store.db import open_store
from cxops.store.models import Base, Notification, Task
from cxops.testing.followup import add_response, at, write_survey
from cxops.testing.project import run_cxops_at_once

WHEN = at("2026-11-23T08:00:00+00:00")


def _task(response_id: int) -> Task:
    return Task(
        response_id=response_id,
        survey_id="nps-test",
        wave_id="2026-11",
        contact_key="c1",
        segment="smb",
        rule_id="detractor",
        rule_version="v1",
        title="Call c1",
        assignee="csm@acme.example",
        priority="high",
        created_at=WHEN,
        due_at=WHEN,
    )


def test_a_duplicate_task_is_refused_by_the_migrated_store(store_url):
    store = open_store(store_url)
    try:
        response = add_response(store, "c1", {"score": 2}, when=WHEN)
        with store.session() as session:
            session.add(_task(response))
        with pytest.raises(IntegrityError), store.session() as session:
            session.add(_task(response))
    finally:
        store.dispose()


def test_a_duplicate_task_is_refused_by_the_models(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'models.db'}")
    Base.metadata.create_all(engine)
    store = open_store(f"sqlite:///{tmp_path / 'models.db'}")  # stamped, nothing to change
    try:
        response = add_response(store, "c1", {"score": 2}, when=WHEN)
    finally:
        store.dispose()
    with Session(engine) as session:
        session.add(_task(response))
        session.commit()
        session.add(_task(response))
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


def _together(project, prefect_env, args: list[str], env: dict[str, str]) -> None:
    for result in run_cxops_at_once(args, cwd=project.root, env={**prefect_env, **env}):
        assert result.exit_code == 0, result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.timeout(900)
def test_two_followups_and_two_digests_at_once_never_duplicate(
    empty_project, prefect_env, store_url
):
    write_survey(empty_project.root)
    store = open_store(store_url)
    try:
        for index in range(120):
            score = (2, 10)[index % 2]
            add_response(store, f"c{index}", {"score": score}, when=WHEN)
    finally:
        store.dispose()
    env = {"CXOPS_DATABASE_URL": store_url}

    _together(empty_project, prefect_env, ["followups"], env)
    engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            doubled = connection.execute(
                select(Task.response_id, Task.rule_id)
                .group_by(Task.response_id, Task.rule_id)
                .having(func.count() > 1)
            ).all()
            tasks = connection.scalar(select(func.count()).select_from(Task))
        assert doubled == []
        assert tasks == 120, "every answer got exactly its one task"

        _together(empty_project, prefect_env, ["digest"], env)
        with engine.connect() as connection:
            digests = connection.execute(
                select(Notification.key, Notification.status).where(Notification.kind == "digest")
            ).all()
    finally:
        engine.dispose()
    assert digests and all(status == "sent" for _, status in digests)
    assert len({key for key, _ in digests}) == len(digests)
    folder = empty_project.root / "outbox" / "_digests"
    messages = [m for path in sorted(folder.rglob("*.mbox")) for m in mailbox.mbox(path)]
    recipients = [message["To"] for message in messages]
    assert len(recipients) == len(set(recipients)) == len(digests), recipients
