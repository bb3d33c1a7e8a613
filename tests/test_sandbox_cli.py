"""Invariant: a hostile or endlessly recursive project template or text field fails the
command that uses it with one line naming the file and line, never a traceback, within
bounded time; `validate` finds what can be found without rendering.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from cxops.store.db import open_store
from cxops.testing.followup import add_response, at, write_survey

RECURSIVE_MACRO = "{% macro f(n) %}\n{{ f(n) }}{% endmacro %}\n{{ f(1) }}\n"


def test_validate_finds_endless_template_recursion(project):
    templates = project.root / "templates"
    (templates / "nps_invite.txt.j2").write_text(RECURSIVE_MACRO)
    (templates / "loop_a.txt.j2").write_text("a\n{% include 'loop_b.txt.j2' %}\n")
    (templates / "loop_b.txt.j2").write_text("{% include 'loop_a.txt.j2' %}\n")
    (templates / "self.html.j2").write_text("{% extends 'self.html.j2' %}\n")
    (templates / "broken.txt.j2").write_text("ok\n{{ unclosed\n")
    (templates / "fine.txt.j2").write_text(
        "{% macro tree(n) %}{% if n %}{{ tree(n - 1) }}{% endif %}{% endmacro %}"
        "{% if deep %}{% include 'fine.txt.j2' %}{% endif %}{{ tree(3) }}"
    )
    result = project.run(["validate"], expect_pass=False)
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("templates/nps_invite.txt.j2:2:1: macro 'f' calls itself") for line in lines
    ), result.stdout
    assert any(line.startswith("templates/loop_a.txt.j2:2:1: templates include") for line in lines)
    assert any(line.startswith("templates/self.html.j2:1:1: templates include") for line in lines)
    assert any(line.startswith("templates/broken.txt.j2:2:1: template syntax") for line in lines)
    assert "fine.txt.j2" not in result.stdout
    assert "Traceback" not in result.output
    # the survey naming nps_invite cannot render it either: run would stop on it
    assert any(
        line.startswith("surveys/nps-quarterly.yaml:") and "'nps_invite.txt.j2' line 2" in line
        for line in lines
    ), result.stdout
    assert "5 problems in 5 of 8 files" in result.stderr, result.stderr


S = "('x'.ljust(99999)|list)"


def test_validate_refuses_a_filter_and_a_text_that_cannot_run_in_bounds(project):
    """Issue 20: `[S] * 99999 == [S] * 99999` as a filter validated and `plan` ran past
    120 s; as a question text the answer page took 108 s and 3.3 GB."""
    path = project.root / "surveys" / "nps-quarterly.yaml"
    survey = path.read_text()
    survey = survey.replace(
        '"How likely are you to recommend', '"{{ [' + S + "] * 99999 }} How likely", 1
    )
    survey = survey.replace(
        "audience:\n", f'audience:\n  filter: "[{S}] * 99999 == [{S}] * 99999"\n', 1
    )
    path.write_text(survey)
    started = time.monotonic()
    result = project.run(["validate"], expect_pass=False)
    assert time.monotonic() - started < 60
    lines = [line for line in result.stdout.splitlines() if "nps-quarterly.yaml" in line]
    filter_line = next(i for i, line in enumerate(survey.splitlines(), 1) if "filter:" in line)
    text_line = next(i for i, line in enumerate(survey.splitlines(), 1) if "99999 }}" in line)
    bounded = "cannot run within the sandbox's bounds: value larger than 2,000,000 characters"
    assert any(
        line.startswith(f"surveys/nps-quarterly.yaml:{filter_line}:") and bounded in line
        for line in lines
    ), result.stdout
    assert any(
        line.startswith(f"surveys/nps-quarterly.yaml:{text_line}:") and bounded in line
        for line in lines
    ), result.stdout
    assert "Traceback" not in result.output


def test_preview_fails_one_line_naming_the_template(project):
    (project.root / "templates" / "nps_invite.txt.j2").write_text(RECURSIVE_MACRO)
    started = time.monotonic()
    result = project.run(["preview", "nps-quarterly"], expect_pass=False)
    assert time.monotonic() - started < 60
    assert "template 'nps_invite.txt.j2' line 2" in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.prefect
def test_a_run_with_a_hostile_template_fails_clearly_and_sends_nothing(project, prefect_env):
    (project.root / "templates" / "nps_invite.txt.j2").write_text(
        "line 1\n{{ 'a' * 10**9 }}\n"  # Jinja would fold this constant at compile time
    )
    result = project.run(["run", "nps-quarterly"], expect_pass=False, env=prefect_env)
    assert "template 'nps_invite.txt.j2' line 2" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    store = open_store(project.settings().store_url)
    try:
        from sqlalchemy import text

        with store.engine.connect() as connection:
            rows = connection.execute(text("SELECT status, count(*) FROM sends GROUP BY 1"))
            statuses = {status: count for status, count in rows}
    finally:
        store.dispose()
    assert statuses.get("sent", 0) == 0 and statuses.get("sending", 0) == 0
    assert not list((project.root / "outbox").rglob("*.mbox"))


HOSTILE_RULE = """\
  - id: hostile
    when: "answers.score >= 9"
    task: "Ask {{ 'a'|center(answers.score * 10**8) }}"
    assign_to: owner@acme.example
    due: 7d
"""


@pytest.mark.slow
@pytest.mark.prefect
def test_followups_and_digest_fail_clearly_on_hostile_texts(empty_project, prefect_env):
    write_survey(empty_project.root, extra_rule=HOSTILE_RULE)
    store = open_store(empty_project.settings().store_url)
    add_response(store, "c1", {"score": 10}, when=at("2026-11-23T08:00:00+00:00"))
    store.dispose()
    started = time.monotonic()
    result = empty_project.run(["followups"], env=prefect_env)
    assert time.monotonic() - started < 120
    # That one rule fails for that one answer, said in one line; the other rule still works.
    assert "1 tasks created" in result.stdout and "1 rule errors" in result.stdout
    assert "rule hostile" in result.stdout and "center width 1,000,000,000" in result.stdout
    assert "Traceback" not in result.output

    write_survey(empty_project.root)
    empty_project.run(["followups"], env=prefect_env)
    (empty_project.root / "templates").mkdir(exist_ok=True)
    (empty_project.root / "templates" / "digest.txt.j2").write_text("{% include 'digest.txt.j2' %}")
    result = empty_project.run(["digest"], expect_pass=False, env=prefect_env)
    # Prefect logs the failed flow run with its traceback; the command's own word is one line.
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: digest.txt.j2: ") and "line 1" in last, result.stderr
    assert "more than 40 deep" in last


@pytest.mark.slow
@pytest.mark.prefect
def _wait_for_a_running_flow(api: str, process: subprocess.Popen[bytes]) -> None:
    """Until the Prefect API shows a flow run RUNNING (this test's: a module's tests run
    one at a time on one worker's API)."""
    import httpx

    deadline = time.monotonic() + 120
    query = {"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}, "limit": 1}
    while not httpx.post(f"{api}/flow_runs/filter", json=query, timeout=30).json():
        assert process.poll() is None, "followups ended before its flow ran"
        assert time.monotonic() < deadline, "no flow run started within 120 s"
        time.sleep(0.2)


def test_followups_stop_promptly_on_sigterm(empty_project, prefect_env):
    """A `followups` busy with a slow (bounded) text stops within seconds of SIGTERM."""
    slow_rule = HOSTILE_RULE.replace(
        "{{ 'a'|center(answers.score * 10**8) }}",
        "{% set s = 'x'.ljust(answers.score * 99 + 9) %}"
        "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    )
    write_survey(empty_project.root, extra_rule=slow_rule)
    store = open_store(empty_project.settings().store_url)
    for index in range(200):
        add_response(store, f"c{index}", {"score": 10}, when=at("2026-11-23T08:00:00+00:00"))
    store.dispose()
    env = {**os.environ, **prefect_env}
    process = subprocess.Popen(
        [sys.executable, "-m", "cxops", "followups"],
        cwd=empty_project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_for_a_running_flow(prefect_env["PREFECT_API_URL"], process)
        time.sleep(1)  # into the rules' evaluation, which the slow rule keeps busy
        assert process.poll() is None, "followups finished before the signal"
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert time.monotonic() - sent < 30
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
