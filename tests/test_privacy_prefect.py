"""Prefect's records hold no contact data, so `cxops forget` has nothing to miss there:

- a wave that fails with contacts in play (an SMTP server greylisting every recipient
  with the address in its reply, until the wave gives up) leaves no address in Prefect's
  database (flow and task states, their messages, events, logs) nor in anything else
  under PREFECT_HOME (stored results, a pickled exception), with Prefect logging at INFO
  as a worker does; the user's line still says what happened;
- an error leaving a task or flow is made contact-free: addresses redacted, chained
  causes dropped, a driver error cut to its first line (the statement's parameters
  follow it).
"""

from __future__ import annotations

import base64
import binascii
import pickle
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.exc import IntegrityError

from cxops.wave.contact_free import ScrubbedError, contact_free, contact_free_errors
from cxops.wave.stopping import WaveStopped

PERSON = "anna.mueller@nordlicht.example"
OTHER = "ben.ito@nordlicht.example"

SURVEY_YAML = """\
id: pulse
name: Pulse
kind: nps
owner: research@acme.example
schedule: {cron: "0 9 * * MON", timezone: UTC}
audience:
  source: {csv: data/people.csv, key: id}
questions:
  - {id: score, type: nps, text: "How likely are you to recommend us?"}
invitation:
  template: nps_invite
  from: "Acme Research <research@acme.example>"
"""


@dataclass
class Greylisting:
    """Answers every recipient with a temporary refusal naming the address (as Postfix does)."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return f"451 4.7.1 <{address}>: Recipient address rejected: greylisted"


def _readable(data: bytes) -> bytes:
    """A file's bytes, and what they decode to when they are base64 (Prefect stores a
    result or exception as a base64 pickle under PREFECT_HOME/storage)."""
    try:
        return data + b"\n" + base64.b64decode(data)
    except binascii.Error:
        return data


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_failed_wave_leaves_no_contact_data_in_prefect(project, tmp_path, monkeypatch):
    for old in (project.root / "surveys").glob("*.yaml"):
        old.unlink()
    (project.root / "surveys" / "pulse.yaml").write_text(SURVEY_YAML, encoding="utf-8")
    (project.root / "data" / "people.csv").write_text(
        f"id,name,email\np1,Anna Müller,{PERSON}\np2,Ben Ito,{OTHER}\n", encoding="utf-8"
    )
    home = tmp_path / "prefect-home"
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # the run's own temporary API
    controller = Controller(Greylisting(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        env = {
            "PREFECT_HOME": str(home),
            "PREFECT_LOGGING_LEVEL": "INFO",  # as a worker runs flows: states and errors logged
            "CXOPS_CHANNEL": "smtp",
            "CXOPS_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
            "CXOPS_CHANNEL_RETRY_SECONDS": "0.05",
        }
        result = project.run(["run", "pulse"], env=env, expect_pass=False, timeout=600)
    finally:
        controller.stop()
    assert "stopped: the smtp channel failed 5 times in a row" in result.stderr, result.output

    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name.startswith("prefect.db") for p in files), "the run had its own API"
    recorded = b"".join(_readable(p.read_bytes()) for p in files).lower()
    assert b"greylisted" in recorded, "the failure is in Prefect's records"
    for address in (PERSON, OTHER):
        assert address.encode() not in recorded, f"{address} in Prefect's records"
    assert "greylisted" in result.stderr and "[email]" in result.stderr, "the user's line"


def test_an_error_leaving_a_task_or_flow_is_contact_free():
    statement = IntegrityError(
        "INSERT INTO sends (email, contact) VALUES (?, ?)",
        (PERSON, '{"name": "Anna Müller"}'),
        Exception(f"duplicate key\nDETAIL: Key (email)=({PERSON}) already exists."),
    )

    @contact_free_errors
    def failing_task() -> None:
        try:
            raise ValueError(f"row of {PERSON}")
        except ValueError:
            raise statement  # noqa: B904 - the chained cause is part of what is tested

    with pytest.raises(ScrubbedError) as raised:
        failing_task()
    assert str(raised.value) == "IntegrityError: (builtins.Exception) duplicate key"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert PERSON not in repr(pickle.loads(pickle.dumps(raised.value)))

    own = WaveStopped(f"stopped: RCPT TO refused: 451 <{PERSON.upper()}>: greylisted")
    own.detail = f"to {PERSON}"
    assert contact_free(own) is own
    assert str(own) == "stopped: RCPT TO refused: 451 <[email]>: greylisted"
    assert PERSON not in pickle.dumps(own).decode("latin-1").lower()
    assert contact_free(KeyboardInterrupt("SIGINT")).args == ("SIGINT",)
