"""The collector while its PostgreSQL server stops and starts again, cleanly or by a crash
(a private cluster of the test's own, `cxops.testing.postgres_cluster`).

Invariant: every answer acknowledged (200) before, during and after the outage is
stored once with its score (a crash included: acknowledged means committed); while the
server is down answers and `/healthz` get 503 at once, never a hang or a 500; once it
is back the same collector, without a restart, stores the answers sent again.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from cxops.collect.app import create_app
from cxops.store.db import open_store
from cxops.store.models import Response
from cxops.testing.collect import invite_many, post_answers
from cxops.testing.followup import serving
from cxops.testing.postgres_cluster import can_run_a_cluster, private_cluster
from cxops.testing.services import require_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_the_database_restarting_under_load_loses_no_acknowledged_answer(project, mode):
    require_service(can_run_a_cluster(), "no PostgreSQL server binaries (initdb, pg_ctl) here")
    with private_cluster() as cluster:
        settings = project.settings(database_url=cluster.url)
        store = open_store(cluster.url)
        invitations = invite_many(store, settings, 150, "restart.example")
        posts = [(inv.answer_path, index % 11) for index, inv in enumerate(invitations)]
        statuses: dict[int, int] = {}
        try:
            with serving(create_app(settings, store=store)) as base:
                for index, status in enumerate(asyncio.run(post_answers(base, posts[:50]))):
                    statuses[index] = status
                assert set(statuses.values()) == {200}

                # The server stops (or crashes) while 50 more answers arrive, 5 at a time:
                # 15 before, 20 while it stops, 15 once it has stopped.
                during: list[int] = []
                flowing, stopped = threading.Event(), threading.Event()

                def answer_in_small_batches() -> None:
                    for start in range(50, 100, 5):
                        if start == 85:
                            stopped.wait(120)
                        during.extend(asyncio.run(post_answers(base, posts[start : start + 5])))
                        if start == 60:
                            flowing.set()

                answering = threading.Thread(target=answer_in_small_batches)
                answering.start()
                flowing.wait(120)
                cluster.stop(mode)
                stopped.set()
                answering.join()
                statuses.update(enumerate(during, start=50))
                assert set(during) == {200, 503}, during  # some before the stop, some after

                started = time.monotonic()
                down = asyncio.run(post_answers(base, posts[100:]))
                health = httpx.get(f"{base}/healthz", timeout=60)
                assert time.monotonic() - started < 60, "answers wait for a server that is down"
                assert set(down) == {503} and health.status_code == 503
                statuses.update(enumerate(down, start=100))

                cluster.start()
                retry = [index for index, status in statuses.items() if status != 200]
                for _ in range(10):
                    again = asyncio.run(post_answers(base, [posts[i] for i in retry]))
                    retry = [i for i, status in zip(retry, again, strict=True) if status != 200]
                    if not retry:
                        break
                    time.sleep(0.5)
                assert retry == [], "the collector answers again once the server is back"
                assert httpx.get(f"{base}/healthz", timeout=60).status_code == 200
            with store.session() as session:
                rows = dict(session.execute(select(Response.send_id, Response.answers)).all())
        finally:
            store.dispose()
    assert len(rows) == len(invitations)  # each once (send_id is the key of the dict)
    for index, invitation in enumerate(invitations):
        assert rows[invitation.send_id]["score"] == posts[index][1]
