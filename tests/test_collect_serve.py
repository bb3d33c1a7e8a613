"""`cxops serve`: the real command on a free port, its JSON access log free of tokens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest

from cxops.store.db import open_store
from cxops.testing.collect import invite


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_over_http_and_logs_json_lines(project):
    settings = project.settings(secret_key="serve-test-key-" + "s" * 32)
    store = open_store(settings.store_url)
    inv = invite(
        store,
        settings.signing_key(),
        survey_id="nps-quarterly",
        contact_key="k1",
        email="person@example.com",
        sent_at=settings.clock() - timedelta(hours=1),
    )
    port = free_port()
    env = {**os.environ, "CXOPS_SECRET_KEY": "serve-test-key-" + "s" * 32}
    process = subprocess.Popen(
        [sys.executable, "-m", "cxops", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "cxops serve did not come up"
            time.sleep(0.1)
        reply = httpx.post(base + inv.answer_path, data={"score": "10", "reason": "great"})
        assert reply.status_code == 200 and "Thank you" in reply.text
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
        store.dispose()
    access = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert {"method": "POST", "route": "/a/{token}", "status": 200} in [
        {key: entry[key] for key in ("method", "route", "status")} for entry in access
    ]
    token = inv.answer_path.removeprefix("/a/")
    assert token not in stderr and "person@example.com" not in stderr
