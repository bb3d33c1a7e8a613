"""A wave that cannot finish stops: a failing channel after a few backed-off tries,
SIGTERM and SIGINT promptly; each with one line (what, how many sent, how to resume),
no process left behind, no half-written outbox file, and a resume that sends nobody twice.
Real `cxops run` processes and real signals."""

from __future__ import annotations

import mailbox
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from cxops.errors import CxopsError
from cxops.store.models import Send
from cxops.testing.sendgrid_server import running_sendgrid_server
from cxops.wave.stopping import CHANNEL_ATTEMPTS, ChannelBackoff, ChannelGaveUp

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

WAVE = "2026-10-01T0900"


def _outbox(root: Path) -> list:
    return [m for path in sorted(root.rglob("*.mbox")) for m in mailbox.mbox(path)]


def _counts(db_url: str) -> Counter[str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Send.status, func.count()).group_by(Send.status)).all()
    except Exception:
        return Counter()
    finally:
        engine.dispose()
    return Counter(dict(rows))


def test_backoff_waits_longer_each_time_and_gives_up_after_a_bounded_number() -> None:
    slept: list[float] = []
    backoff = ChannelBackoff("outbox", sleep=slept.append)
    backoff.after(False, "disk full")
    backoff.after(True, None)  # progress resets the count
    for _ in range(CHANNEL_ATTEMPTS - 1):
        backoff.after(False, "disk full")
    with pytest.raises(
        ChannelGaveUp, match=r"outbox channel failed 5 times in a row \(disk full\)"
    ):
        backoff.after(False, "disk full")
    assert slept == [0.5, 0.5, 1.0, 2.0, 4.0]


def test_the_first_wait_is_a_setting(empty_project) -> None:
    slept: list[float] = []
    settings = empty_project.settings(channel_retry_seconds=3)
    backoff = ChannelBackoff.of(settings, sleep=slept.append)
    for _ in range(CHANNEL_ATTEMPTS - 1):
        backoff.after(False, "connection refused")
    assert slept == [3.0, 6.0, 12.0, 24.0]
    with pytest.raises(CxopsError, match="channel_retry_seconds"):
        empty_project.settings(channel_retry_seconds=0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unwritable_outbox(project) -> dict[str, str]:
    # A file where the outbox folder should be: every batch fails to write (as on a
    # read-only or full file system; root ignores permissions, so chmod would not do).
    (project.root / "blocked").write_text("not a folder")
    return {"CXOPS_OUTBOX_DIR": str(project.root / "blocked" / "outbox")}


@pytest.mark.parametrize("channel", ["outbox", "smtp", "sendgrid"])
def test_a_channel_that_keeps_failing_stops_the_run_with_one_line(project, prefect_env, channel):
    db_url = f"sqlite:///{project.root / 'cxops.db'}"
    # Waits of 0.05 s, 0.1 s, …: the bounded backoff itself, without 7.5 s of sleeping.
    env = {**prefect_env, "CXOPS_BATCH_SIZE": "100", "CXOPS_CHANNEL_RETRY_SECONDS": "0.05"}
    started = time.monotonic()
    with running_sendgrid_server(api_key="SG.the-right-key") as server:
        if channel == "outbox":
            env.update(_unwritable_outbox(project))
        elif channel == "smtp":
            env.update(CXOPS_CHANNEL="smtp", CXOPS_SMTP_URL=f"smtp://127.0.0.1:{_closed_port()}")
        else:  # SendGrid refusing the key
            env.update(
                CXOPS_CHANNEL="sendgrid",
                CXOPS_SENDGRID_API_KEY="SG.a-revoked-key",
                CXOPS_SENDGRID_API_URL=server.url,
            )
        result = project.run(["run", "nps-quarterly"], env=env, expect_pass=False, timeout=300)
        assert server.messages() == []
    elapsed = time.monotonic() - started
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(f"error: stopped: the {channel} channel failed 5 times in a row (")
    assert "0 of 300 sent, 300 pending" in line
    assert f"cxops run nps-quarterly --wave {WAVE}` to resume" in line
    assert "Traceback" not in result.output
    assert elapsed < 240, f"took {elapsed:.0f}s"
    # nothing was marked sent that was not sent; everyone is still to be invited
    assert _counts(db_url) == Counter({"pending": 300})


def _session_processes(session: int) -> list[int]:
    """Processes (other than zombies) in session `session`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.timeout(900)  # an ephemeral Prefect server, a wave, a resume: slow on 2 busy cores
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_wave_promptly_cleanly_and_the_rerun_resumes(
    project, prefect_env, signum
):
    db_url = f"sqlite:///{project.root / 'cxops.db'}"
    env = {**os.environ, "CXOPS_PROJECT_DIR": str(project.root), "CXOPS_BATCH_SIZE": "5"}
    if signum == signal.SIGTERM:
        # its own ephemeral Prefect server: a SIGTERM must not leave it running
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
        env["PREFECT_HOME"] = str(project.root / ".prefect")
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # no internet here
    else:
        env.update(prefect_env)
    run = subprocess.Popen(
        [sys.executable, "-m", "cxops", "run", "nps-quarterly"],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while _counts(db_url)["sent"] < 20 and time.monotonic() < deadline:
        assert run.poll() is None, run.communicate()
        time.sleep(0.1)
    assert _counts(db_url)["sent"] >= 20, "the wave did not start sending"
    run.send_signal(signum)
    signalled = time.monotonic()
    _, stderr = run.communicate(timeout=60)
    stopped_after = time.monotonic() - signalled
    assert run.returncode != 0
    assert stopped_after < 30, f"took {stopped_after:.1f}s to stop"
    # cxops says one line; its own ephemeral Prefect server, shutting down in the same
    # session, may log its troubles around it (never a traceback through cxops' code)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    line = errors[0]
    assert line.startswith(f"error: stopped by {signal.Signals(signum).name}: "), stderr
    assert "/cxops/" not in stderr, stderr
    counts = _counts(db_url)
    assert f"{counts['sent']} of 300 sent" in line and "--wave" in line
    assert counts["sent"] < 300, "the wave finished before the signal"
    # nothing left behind: no process of the run's session, no temporary outbox file
    time.sleep(1)
    assert _session_processes(run.pid) == []
    assert list((project.root / "outbox").rglob("*.tmp")) == []
    assert counts["sending"] == 0

    resumed = project.run(["run", "nps-quarterly", "--json"], env=prefect_env).json
    delivered = _outbox(project.root / "outbox")
    per_person = Counter(m["To"] for m in delivered)
    assert max(per_person.values()) == 1, "somebody was invited twice"
    assert resumed["sent"] + resumed["in_doubt"] == 300 and resumed["in_doubt"] <= 5
    assert len(per_person) >= resumed["sent"]


def _ephemeral_api_of(pid: int) -> int | None:
    """The child of `pid` serving Prefect's temporary API (its app factory on the command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"prefect.server.api.server:create_app" in command:
            return int(entry.name)
    return None


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(900)  # an ephemeral Prefect server on 2 busy cores
def test_a_killed_run_takes_its_temporary_prefect_api_with_it(project):
    """SIGKILL gives `cxops run` no chance to stop Prefect's temporary API: the server
    notices its parent is gone and stops itself."""
    env = {**os.environ, "CXOPS_PROJECT_DIR": str(project.root), "CXOPS_BATCH_SIZE": "5"}
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    env["PREFECT_HOME"] = str(project.root / ".prefect")
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"  # no internet here
    db_url = f"sqlite:///{project.root / 'cxops.db'}"
    run = subprocess.Popen(
        [sys.executable, "-m", "cxops", "run", "nps-quarterly"],
        cwd=project.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = None
    try:
        deadline = time.monotonic() + 300
        while server is None or _counts(db_url)["sent"] == 0:  # the API serves the flow run
            assert run.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run did not start sending"
            server = server or _ephemeral_api_of(run.pid)
            time.sleep(0.1)
        run.kill()
        run.wait(30)
        deadline = time.monotonic() + 120  # it stops in about a second; a busy machine is slower
        while _running(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(server), "the temporary Prefect API outlived its killed run"
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        if server is not None and _running(server):
            os.kill(server, signal.SIGKILL)


def test_plan_shows_suppressed_people_as_excluded_with_their_reason(project):
    from cxops.store.db import open_store
    from cxops.store.suppressions import suppress

    before = project.run(["plan", "nps-quarterly", "--json", "--invitees"]).json
    victim = before["invitees"][0]
    store = open_store(project.settings().store_url)
    with store.session() as session:
        suppress(
            session, victim["email"], "unsubscribed", source="test", now=project.settings().clock()
        )
    store.dispose()
    after = project.run(["plan", "nps-quarterly", "--json", "--invitees"]).json
    assert after["excluded"].get("unsubscribed") == 1
    assert victim["key"] not in {entry["key"] for entry in after["invitees"]}
    assert "unsubscribed" in project.run(["plan", "nps-quarterly"]).stdout


@pytest.mark.timeout(900)
def test_a_template_failing_for_some_contacts_stops_the_wave_and_a_fixed_rerun_sends_each_once(
    project, prefect_env
):
    """Invariant: a template that cannot render for a contact stops the wave with one line
    naming the template's file and line and the contact; nothing of that contact's batch
    is sent or marked sent; the run after the fix sends every sampled person exactly once."""
    db_url = f"sqlite:///{project.root / 'cxops.db'}"
    env = {**prefect_env, "CXOPS_BATCH_SIZE": "50"}
    template = project.root / "templates" / "nps_invite.txt.j2"
    fixed = template.read_text(encoding="utf-8")
    block = "{% block content %}\n"
    assert block in fixed
    broken = "{% if contact.id.endswith('7') %}{{ contact.nothing.deeper }}{% endif %}\n"
    template.write_text(fixed.replace(block, block + broken), encoding="utf-8")
    broken_line = fixed[: fixed.index(block)].count("\n") + 2
    result = project.run(["run", "nps-quarterly"], env=env, expect_pass=False, timeout=600)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert f"template 'nps_invite.txt.j2' line {broken_line}" in line, line
    assert "cannot render the invitation for contact 'c-" in line, line
    assert f"`cxops run nps-quarterly --wave {WAVE}` to resume" in line, line
    assert "Traceback" not in result.output
    key = line.split("for contact '", 1)[1].split("'", 1)[0]
    assert key.endswith("7")

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            (batch,) = conn.execute(select(Send.batch).where(Send.contact_key == key)).one()
            in_batch = conn.execute(
                select(Send.status, func.count()).where(Send.batch == batch).group_by(Send.status)
            ).all()
            sent_keys = set(
                conn.execute(select(Send.contact_key).where(Send.status == "sent")).scalars()
            )
    finally:
        engine.dispose()
    assert set(dict(in_batch)) == {"pending"}, f"batch {batch} of {key}: {in_batch}"
    assert key not in sent_keys
    counts = _counts(db_url)
    assert set(counts) <= {"pending", "sent"} and counts["pending"] > 0, counts
    first = _outbox(project.root / "outbox")
    assert len(first) == counts["sent"], "every message sent is in the ledger as sent"

    template.write_text(fixed, encoding="utf-8")
    again = project.run(["run", "nps-quarterly", "--json"], env=env, timeout=600).json
    assert again["sent"] == 300 and again["failed"] == 0 and again["in_doubt"] == 0
    messages = _outbox(project.root / "outbox")
    assert len(messages) == 300
    assert len({m["X-Cxops-Send-Id"] for m in messages}) == 300
    assert len({m["To"] for m in messages}) == 300, "nobody invited twice"
    assert _counts(db_url) == Counter({"sent": 300})


@pytest.mark.timeout(600)
def test_a_weak_signing_key_stops_the_wave_as_a_setting_not_as_a_template(project, prefect_env):
    """A key file a user (or a crashed tool) left short is the setting's one line; the
    wave did not say 'fix the template' for it, and nothing was sent."""
    key_file = project.root / ".cxops" / "secret_key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text("tiny\n")
    result = project.run(["run", "nps-quarterly"], env=prefect_env, expect_pass=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: setting secret_key (CXOPS_SECRET_KEY)")
    assert "is 4 bytes; a signing key needs at least 32" in lines[0]
    assert "template" not in lines[0] and "Traceback" not in result.output
    assert _outbox(project.root / "outbox") == []
