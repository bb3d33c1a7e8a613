"""The `serve` child of `cxops up`, stopped while it still registers its deployments."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.prefect]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    "inherited_sigint",
    [
        "default",
        # What a child of a background job of a non-interactive shell inherits (`make
        # test &`, `cxops up &` in a script): the test failed 5 of 5 on a machine whose
        # suite was started that way, the child ignoring the SIGINT and killed after 60 s.
        "ignored",
    ],
)
def test_ctrl_c_while_the_runner_registers_its_deployments_stops_it_in_one_line(
    project, inherited_sigint
):
    api = socket.socket()  # an API that takes the connection and never answers
    api.bind(("127.0.0.1", 0))
    api.listen()
    api.settimeout(120)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{api.getsockname()[1]}/api"
    serving = subprocess.Popen(
        [sys.executable, "-m", "cxops.schedule.serving", str(project.root)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if inherited_sigint == "ignored" else None,
    )
    try:
        connection, _ = api.accept()  # the Runner now waits on the API to register
        serving.send_signal(signal.SIGINT)
        # Stopping is a few seconds of interpreter shutdown even on a loaded machine;
        # a child that ignores the signal never stops, whatever the wait.
        _, stderr = serving.communicate(timeout=60)
        connection.close()
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()
        api.close()
    assert serving.returncode == 0, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.strip().splitlines()[-1] == "stopped before the schedules were served"
