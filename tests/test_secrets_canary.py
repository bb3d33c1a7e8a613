"""Invariant: no secret ever leaves — CXOPS_SECRET_KEY, the SendGrid key, the SMTP and
database passwords appear in no output, error message, Prefect artifact or log, outbox
file or collector log; the collector's access log holds no token and no address.

Real commands run with canary values for every secret: validate, plan, settings, run
through the outbox and through the local SendGrid server, serve (an answer posted),
followups, digest, every export, and error paths (a refused SMTP server, an unreachable
database). Then every captured byte is grepped for every canary.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from cxops.messages.tokens import make_token
from cxops.store.models import Send
from cxops.testing.collect import serve_process
from cxops.testing.sendgrid_server import running_sendgrid_server

pytestmark = [pytest.mark.prefect, pytest.mark.slow, pytest.mark.timeout(1200)]

SECRET_KEY = "canary-signing-key-7f3a9c1e5b2d4f6a8c0e"
SENDGRID_KEY = "SG.canary-sendgrid-key-91b7d3f5"
SMTP_PASSWORD = "canary-smtp-password-4c8e2a6f"
DB_PASSWORD = "canary-db-password-6d0b8f2c"
CANARIES = (SECRET_KEY, SENDGRID_KEY, SMTP_PASSWORD, DB_PASSWORD)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_secret_canary_appears_anywhere(project, prefect_env, postgres_url):
    database_url = make_url(postgres_url).set(password=DB_PASSWORD)  # trust auth ignores it
    env = {
        **prefect_env,
        "CXOPS_SECRET_KEY": SECRET_KEY,
        "CXOPS_DATABASE_URL": database_url.render_as_string(hide_password=False),
        "CXOPS_SMTP_URL": f"smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:9",
    }
    captured: list[str] = []

    def run(args: list[str], *, expect_pass: bool | None = True, **extra: str) -> str:
        result = project.run(args, expect_pass=expect_pass, env={**env, **extra})
        captured.append(result.output)
        return result.output

    run(["validate"])
    run(["plan", "nps-quarterly", "--json"])
    run(["settings"])
    run(["settings", "--json"])
    run(["run", "nps-quarterly"])
    with running_sendgrid_server(api_key=SENDGRID_KEY) as server:
        run(
            ["run", "csat-support"],
            CXOPS_CHANNEL="sendgrid",
            CXOPS_SENDGRID_API_KEY=SENDGRID_KEY,
            CXOPS_SENDGRID_API_URL=server.url,
        )
        # Two waves whose channel refuses (a wrong key; SMTP below): they stop after their
        # bounded retries (short waits here); a run still going after 60 s is killed.
        refused = {
            "CXOPS_CHANNEL_RETRY_SECONDS": "0.05",
            "CXOPS_CHANNEL": "sendgrid",
            "CXOPS_SENDGRID_API_KEY": SENDGRID_KEY + "-wrong",
            "CXOPS_SENDGRID_API_URL": server.url,
        }
        captured.append(_stopped(project, {**env, **refused}, ["run", "ces-onboarding"]))
    smtp = {**env, "CXOPS_CHANNEL": "smtp", "CXOPS_CHANNEL_RETRY_SECONDS": "0.05"}
    captured.append(_stopped(project, smtp, ["run", "ces-onboarding", "--wave", "smtp"]))
    unreachable = make_url(postgres_url).set(password=DB_PASSWORD, port=_free_port())
    run(
        ["plan", "nps-quarterly"],
        expect_pass=False,
        CXOPS_DATABASE_URL=unreachable.render_as_string(hide_password=False),
    )

    access_log, token, address = _serve_and_answer(project, env, postgres_url)
    captured.append(access_log)
    run(["followups"])
    run(["digest"])
    run(["export", "responses", "nps-quarterly", "--format", "jsonl"])
    run(["export", "tasks", "nps-quarterly", "--format", "jsonl"])
    run(["export", "person", address])

    api = prefect_env["PREFECT_API_URL"]
    artifacts = httpx.post(f"{api}/artifacts/filter", json={"limit": 200}).json()
    captured.extend(str(artifact.get("data")) for artifact in artifacts)
    logs = httpx.post(f"{api}/logs/filter", json={"limit": 200}).json()
    captured.extend(entry["message"] for entry in logs)
    captured.extend(_project_files(project.root))

    everything = "\n".join(captured)
    for canary in CANARIES:
        assert canary not in everything, f"{canary} leaked"
    assert token not in access_log and address not in access_log
    routes = [
        json.loads(line).get("route") for line in access_log.splitlines() if line.startswith("{")
    ]
    assert "/a/{token}" in routes, access_log


def _stopped(project, env, args: list[str]) -> str:
    """The output of a command stopped (SIGKILL) if still running after 60 s."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cxops", *args],
        cwd=project.root,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        stdout, stderr = process.communicate(timeout=30)
    return stdout + stderr


def _serve_and_answer(project, env, postgres_url) -> tuple[str, str, str]:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            send_id, address, sent_at = connection.execute(
                select(Send.send_id, Send.email, Send.sent_at)
                .where(Send.survey_id == "nps-quarterly", Send.status == "sent")
                .limit(1)
            ).one()
    finally:
        engine.dispose()
    token = make_token(SECRET_KEY.encode(), "answer", send_id, sent_at + timedelta(days=14))
    with serve_process(project.root, env) as served:
        reply = httpx.post(f"{served.base}/a/{token}", data={"score": "2", "reason": "too slow"})
        assert reply.status_code == 200
        httpx.get(f"{served.base}/a/{token}-tampered")
    return served.output(), token, address


def _project_files(root: Path) -> list[str]:
    texts = []
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in {".mbox", ".html", ".json", ".txt", ".log", ".md"}:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return texts
