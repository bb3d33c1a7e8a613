"""Quiet, offline Prefect: the defaults cxops sets, and a real ephemeral run with a clean stderr."""

from __future__ import annotations

import os

import pytest

from cxops.schedule import env


def test_quiet_defaults_fill_only_what_the_user_left_unset(tmp_path):
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "mine"\n[profiles.mine]\nPREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS = "true"\n'
    )
    environ = {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "true"}
    applied = env.apply_quiet_defaults(environ)
    assert environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "true"  # the environment wins
    assert "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS" not in environ  # the profile wins
    assert environ["DO_NOT_TRACK"] == "1"
    assert set(applied) == {"DO_NOT_TRACK", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"}
    assert env.apply_quiet_defaults(environ) == {}


def test_a_missing_or_broken_profile_file_is_no_profile(tmp_path):
    assert env.profile_settings({"PREFECT_HOME": str(tmp_path)}) == {}
    (tmp_path / "profiles.toml").write_text("not toml [")
    assert env.profile_settings({"PREFECT_HOME": str(tmp_path)}) == {}


def test_up_api_is_used_only_while_its_process_lives_and_listens(tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    api = env.UpApi(
        url=f"http://127.0.0.1:{port}/api", pid=os.getpid(), host="127.0.0.1", port=port
    )
    env.write_up_api(tmp_path, api)
    environ: dict[str, str] = {}
    assert env.use_up_api(tmp_path, environ) == api
    assert environ["PREFECT_API_URL"] == api.url
    explicit = {"PREFECT_API_URL": "http://elsewhere/api"}
    assert env.use_up_api(tmp_path, explicit) is None and explicit["PREFECT_API_URL"].startswith(
        "http://elsewhere"
    )
    listener.close()
    assert env.read_up_api(tmp_path) is None  # nobody listens any more
    env.write_up_api(tmp_path, env.UpApi(api.url, pid=2**22 + 12345, host="127.0.0.1", port=port))
    assert env.read_up_api(tmp_path) is None  # no such process
    env.remove_up_api(tmp_path, pid=os.getpid())  # not ours: kept
    assert (tmp_path / env.API_FILE).exists()
    env.remove_up_api(tmp_path, pid=2**22 + 12345)
    assert not (tmp_path / env.API_FILE).exists()


@pytest.mark.prefect
@pytest.mark.slow
def test_a_successful_ephemeral_run_prints_no_traceback_and_tries_no_telemetry(
    project, monkeypatch
):
    for name in list(os.environ):
        if name.startswith("PREFECT_") or name == "DO_NOT_TRACK":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(project.root / ".prefect-home"))
    result = project.run(["run", "csat-support", "--json"], timeout=400)
    assert result.json["sent"] == 125
    assert "Traceback" not in result.stderr, result.stderr
    assert "telemetry" not in result.stderr.lower(), result.stderr
    assert "ERROR" not in result.stderr, result.stderr
