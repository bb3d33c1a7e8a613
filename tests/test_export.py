"""Exports: cells that no spreadsheet evaluates, the documented jsonl shape, the real CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from cxops.export import neutralize_cell, write_csv, write_jsonl
from cxops.store.db import open_store
from cxops.store.responses import save_answers
from cxops.testing.collect import add_send


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "'\r=1"),
        ("＝1+1", "'＝1+1"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        (-3, "-3"),
        (7, "7"),
        (2.5, "2.5"),
        (True, "true"),
        (None, ""),
        (["=x", "y"], "'=x; y"),
        ({"k": "v"}, '{"k": "v"}'),
    ],
)
def test_neutralize_cell(value, cell):
    assert neutralize_cell(value) == cell


def test_writers_round_trip():
    out = io.StringIO()
    assert write_csv([{"a": "=1", "b": 2}, {"a": 'x,"y"\nz'}], ["a", "b"], out) == 2
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["a", "b"],
        ["'=1", "2"],
        ['x,"y"\nz', ""],
    ]
    out = io.StringIO()
    assert write_jsonl([{"a": "=1"}, {"b": None}], out) == 2
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"a": "=1"}, {"b": None}]


@pytest.fixture
def answered(project):
    settings = project.settings()
    store = open_store(settings.store_url)
    now = settings.clock()
    done = add_send(
        store,
        survey_id="nps-quarterly",
        contact_key="acme-1",
        email="a@example.com",
        sent_at=now - timedelta(hours=3),
        segment="enterprise",
        wave_id="2026-10-01",
    )
    half = add_send(
        store,
        survey_id="nps-quarterly",
        contact_key="=evil()",
        email="b@example.com",
        sent_at=now - timedelta(seconds=1),
        segment="smb",
        wave_id="2026-10-01",
    )
    save_answers(store, done, {"score": 9, "reason": "=1+2 great"}, complete=True, now=now)
    save_answers(store, half, {"score": 2}, complete=False, now=now)
    store.dispose()
    return now


def test_export_responses_jsonl_has_the_design_shape(project, answered):
    result = project.run(["export", "responses", "nps-quarterly", "--format", "jsonl"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(rows[0]) == sorted(
        [
            "survey",
            "wave",
            "contact_key",
            "segment",
            "status",
            "answers",
            "submitted_at",
            "suspect",
            "suspect_reason",
            "confirmed",
            "first_answered_at",
            "updated_at",
            "revision",
        ]
    )
    first, second = rows
    assert first["survey"] == "nps-quarterly" and first["wave"] == "2026-10-01"
    assert (first["contact_key"], first["segment"], first["status"]) == (
        "acme-1",
        "enterprise",
        "complete",
    )
    assert first["answers"] == {"score": 9, "reason": "=1+2 great"}
    assert first["submitted_at"] == answered.isoformat()
    assert first["suspect"] is False
    assert (second["status"], second["submitted_at"], second["suspect"]) == ("partial", None, True)
    assert second["suspect_reason"] == "too_fast"
    # the submitted answer is a person's; the half answer is a provisional one-click score
    assert (first["confirmed"], second["confirmed"]) == (True, False)


def test_export_responses_csv_is_safe_for_spreadsheets(project, answered):
    out = project.path("responses.csv")
    project.run(["export", "responses", "nps-quarterly", "--format", "csv", "--out", str(out)])
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "survey",
        "wave",
        "contact_key",
        "segment",
        "status",
        "suspect",
        "confirmed",
        "submitted_at",
        "score",
        "reason",
    ]
    assert rows[0]["reason"] == "'=1+2 great" and rows[0]["score"] == "9"
    assert (rows[0]["confirmed"], rows[1]["confirmed"]) == ("true", "false")
    assert rows[1]["contact_key"] == "'=evil()" and rows[1]["suspect"] == "true"


def test_export_out_dash_is_standard_output(project, answered):
    plain = project.run(["export", "responses", "nps-quarterly", "--format", "jsonl"]).stdout
    dash = project.run(["export", "responses", "nps-quarterly", "--format", "jsonl", "--out", "-"])
    assert dash.stdout == plain and len(plain.splitlines()) == 2
    assert not project.path("-").exists()  # no file named '-'
    tasks = project.run(["export", "tasks", "nps-quarterly", "--out", "-"])
    assert tasks.stdout.startswith("id,") and not project.path("-").exists()


def test_export_refuses_an_unknown_format_or_survey(project, answered):
    assert (
        "csv or jsonl"
        in project.run(
            ["export", "responses", "nps-quarterly", "--format", "xlsx"], expect_pass=False
        ).output
    )
    assert "no-such" in project.run(["export", "responses", "no-such"], expect_pass=False).output
