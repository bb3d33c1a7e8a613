"""The compiled flow's shape, and which failures make `cxops run` try the flow again."""

from __future__ import annotations

import dataclasses
import sqlite3

import httpx
from prefect.exceptions import PrefectHTTPStatusError

from cxops.errors import ChannelError, TemplateError
from cxops.spec import find_survey
from cxops.wave.flow import compile_survey, survey_tags
from cxops.wave.run import is_orchestration_error
from cxops.wave.summary import WaveSummary, artifact_key, summary_markdown


def test_a_survey_compiles_to_a_flow_named_after_it(project):
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    flow = compile_survey(survey)
    assert flow.name == "wave-nps-quarterly"
    assert set(flow.parameters.properties) == {"project_dir", "wave", "dry_run", "resend_in_doubt"}
    assert survey_tags(survey) == ["cxops", "survey:nps-quarterly", "kind:nps"]
    assert artifact_key(survey.id) == "wave-summary-nps-quarterly"


def test_summary_markdown_has_a_row_per_segment():
    summary = WaveSummary(
        survey="s",
        wave="w",
        sampled=3,
        sent=3,
        by_segment={"smb": {"eligible": 2, "sampled": 2, "sent": 2}, "other": {"sent": 1}},
        excluded={"unsubscribed": 4},
    )
    text = summary_markdown(summary)
    assert "| smb | 2 | 2 | 2 | 0 | 0 |" in text and "| other | 0 | 0 | 1 | 0 | 0 |" in text
    assert "| unsubscribed | 4 |" in text
    sent = dataclasses.replace(
        summary, wave="2026-10-07T0900", first_sent_at="2026-12-07T08:00:00+00:00"
    )
    assert "wave 2026-10-07T0900 (scheduled 7 Oct 2026 09:00, sent 7 Dec 2026)" in (
        summary_markdown(sent)
    )


def test_only_prefects_own_failures_are_retried():
    request = httpx.Request("POST", "http://127.0.0.1/api/flow_runs")
    response = httpx.Response(503, request=request)
    assert is_orchestration_error(
        PrefectHTTPStatusError("down", request=request, response=response)
    )
    assert is_orchestration_error(httpx.ConnectError("refused"))
    assert is_orchestration_error(sqlite3.OperationalError("database is locked"))
    assert not is_orchestration_error(TemplateError("templates/x.html.j2 is missing"))
    assert not is_orchestration_error(ChannelError("bad key"))
    assert not is_orchestration_error(ValueError("a bug"))


def test_tasks_retry_transient_failures_but_not_cxops_errors():
    from prefect.states import Failed

    from cxops.wave.flow import worth_retrying

    assert worth_retrying(None, None, Failed(data=ConnectionResetError("peer hung up")))
    assert not worth_retrying(None, None, Failed(data=TemplateError("missing template")))


def test_a_big_source_is_planned_in_its_own_process_while_batches_go_out(
    project, prefect_harness, monkeypatch
):
    import mailbox

    from cxops.wave import prepare
    from cxops.wave.run import run_wave

    monkeypatch.setattr(prepare, "PARALLEL_PLANNING_BYTES", 0)  # every source counts as big
    settings = project.settings(batch_size=25)
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    summary = run_wave(survey, settings).as_dict()
    assert (summary["sampled"], summary["sent"], summary["in_doubt"]) == (300, 300, 0)
    assert summary["excluded"] == {"duplicate_email": 2} and len(summary["bad_rows"]) == 11
    messages = [m for p in (project.root / "outbox").rglob("*.mbox") for m in mailbox.mbox(p)]
    assert len(messages) == 300 and len({m["To"] for m in messages}) == 300

    again = run_wave(survey, settings).as_dict()
    assert again["sent"] == 300 and any("resumed" in note for note in again["notes"])
