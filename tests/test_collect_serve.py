"""`cxops serve`: the real command on a free port, its JSON access log free of tokens."""

from __future__ import annotations

import json

import httpx
import pytest

from cxops.testing.collect import invited_person, serve_process

SECRET = "serve-test-key-" + "s" * 32


@pytest.mark.slow
def test_serve_answers_over_http_and_logs_json_lines(project):
    inv = invited_person(project.settings(secret_key=SECRET))
    with serve_process(project.root, {"CXOPS_SECRET_KEY": SECRET}) as served:
        reply = httpx.post(served.base + inv.answer_path, data={"score": "10", "reason": "great"})
        assert reply.status_code == 200 and "Thank you" in reply.text
    output = served.output()
    access = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert {"method": "POST", "route": "/a/{token}", "status": 200} in [
        {key: entry[key] for key in ("method", "route", "status")} for entry in access
    ]
    token = inv.answer_path.removeprefix("/a/")
    assert token not in output and "person@example.com" not in output


def test_serve_on_an_address_it_cannot_listen_on_is_one_line(project):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = project.run(["serve", "--port", str(port)], expect_pass=False, timeout=60)
    assert result.exit_code == 1 and result.stdout == ""  # never announced as listening
    assert result.stderr.strip() == (
        f"error: --host 127.0.0.1 --port {port}: cannot listen there (Address already in use)"
    )
    out_of_range = project.run(["serve", "--port", "70000"], expect_pass=False, timeout=60)
    assert out_of_range.stderr.startswith("error: --host 127.0.0.1 --port 70000: cannot listen")
