"""The example NPS survey with two subject lines, end to end: planned with variants into the
ledger, sent through the outbox with each variant's subject, answered through the
collector, reminded with each variant's own delay (each person keeping their variant),
reported per variant; and a wave killed with SIGKILL, then resumed, keeps every variant."""

from __future__ import annotations

import mailbox
import os
import random
import re
from collections import Counter
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

import pytest
from sqlalchemy import select

from cxops.analysis.report import build_from_store
from cxops.collect import create_app
from cxops.spec import find_survey
from cxops.store.db import open_store
from cxops.store.models import Send
from cxops.testing.collect import client_for
from cxops.testing.project import kill_cxops_once
from cxops.testing.waves import send_all
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave
from cxops.wave.reminder_round import remind_survey

SURVEY = "nps-quarterly"
START = datetime.fromisoformat("2026-10-01T09:00:00+00:00")
VARIANTS = """\
  variants:
    - {id: plain, subject: "How are we doing?"}
    - {id: personal, subject: "{{ contact.name }}, one question about Acme", reminder: {after: 2d}}
"""
ANSWER = re.compile(r"/a/[^\s\"'<>]+")


def with_variants(project: Any) -> None:
    path = project.root / "surveys" / f"{SURVEY}.yaml"
    text = path.read_text()
    path.write_text(text.replace("  template: nps_invite\n", "  template: nps_invite\n" + VARIANTS))


def subject(message: Any) -> str:
    return str(make_header(decode_header(message["Subject"])))


def ledger(store_url: str, step: int) -> dict[str, Send]:
    store = open_store(store_url)
    try:
        with store.session() as session:
            rows = session.scalars(select(Send).where(Send.survey_id == SURVEY, Send.step == step))
            return {row.contact_key: row for row in rows}
    finally:
        store.dispose()


def outbox(project: Any, pattern: str) -> list[Any]:
    folder = project.root / "outbox" / SURVEY
    return [m for path in sorted(folder.rglob(pattern)) for m in mailbox.mbox(path)]


def expected_subject(row: Send) -> str:
    if row.variant == "plain":
        return "How are we doing?"
    return f"{row.contact['name']}, one question about Acme"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_two_subject_lines_through_the_collector_reminders_and_report(
    project: Any, store_url: str
) -> None:
    with_variants(project)
    settings = project.settings(now=START, batch_size=50, database_url=store_url)
    survey = find_survey(SURVEY, project.root / "surveys", project.root)
    store = open_store(store_url)
    try:
        wave = WaveContext.begin(survey, settings, "q4")
        prepare_wave(store, wave)
        send_all(store, wave)

        invited = ledger(store_url, 0)
        variants = Counter(row.variant for row in invited.values())
        assert set(variants) == {"plain", "personal"} and sum(variants.values()) == 300
        # Seeded permuted blocks of two per segment: off by at most one per segment.
        segments = {row.segment for row in invited.values()}
        assert abs(variants["plain"] - variants["personal"]) <= len(segments)
        by_send = {row.send_id: row for row in invited.values()}
        mail = outbox(project, "*.mbox")
        assert len(mail) == 300
        for message in mail:
            row = by_send[message["X-Cxops-Send-Id"]]
            assert subject(message) == expected_subject(row)

        # Answers through the collector: promoters from `plain`, detractors from `personal`.
        app = create_app(project.settings(now=START + timedelta(hours=5), database_url=store_url))
        client = client_for(app)
        answered: Counter[str] = Counter()
        for message in mail:
            row = by_send[message["X-Cxops-Send-Id"]]
            if answered[row.variant or ""] >= 40:
                continue
            body = message.get_payload(0).get_payload(decode=True).decode()
            path = ANSWER.search(body)
            assert path is not None
            score = "9" if row.variant == "plain" else "3"
            assert client.post(path[0], data={"score": score}).status_code == 200
            answered[row.variant or ""] += 1

        # `personal` reminds after 2 days, `plain` after the survey's 3.
        def remind(moment: datetime) -> Any:
            at = project.settings(now=moment, batch_size=50, database_url=store_url)
            return remind_survey(store, survey, at, lambda w: send_all(store, w))

        remind(START + timedelta(days=2, hours=1))
        reminded = {k: r for k, r in ledger(store_url, 1).items() if r.status == "sent"}
        assert {row.variant for row in reminded.values()} == {"personal"}
        assert len(reminded) == variants["personal"] - 40
        remind(START + timedelta(days=3, hours=1))
        reminders = ledger(store_url, 1)
        assert len(reminders) == 300 - 80
        assert all(row.variant == invited[key].variant for key, row in reminders.items())
        for message in outbox(project, "reminder1-*.mbox"):
            row = next(r for r in reminders.values() if r.send_id == message["X-Cxops-Send-Id"])
            assert subject(message) == expected_subject(row)
    finally:
        store.dispose()

    report = build_from_store(
        survey, project.settings(now=START + timedelta(days=4), database_url=store_url)
    )
    assert report.variants is not None
    section = report.variants
    assert section.split == {"plain": 50.0, "personal": 50.0}
    assert [(h.wave, h.invited) for h in section.history] == [
        ("q4", {"plain": variants["plain"], "personal": variants["personal"]})
    ]
    plain, personal = section.variants["plain"], section.variants["personal"]
    assert (plain.invited, plain.answers, personal.answers) == (variants["plain"], 40, 40)
    assert plain.metrics["nps"].value == 100.0 and personal.metrics["nps"].value == -100.0
    assert personal.difference is not None
    assert personal.difference.metrics["nps"].verdict == "lower"
    assert personal.difference.response_rate.verdict == "no detectable difference"
    # The headline is over every variant: half promoters, half detractors.
    _, main = report.main_question()
    assert main is not None and main.metrics["nps"].value == 0.0 and main.n == 80
    from cxops.analysis.html import render_html
    from cxops.cli.report_commands import headline_lines

    page = render_html(report)
    assert "Invitation experiment" in page and "no detectable difference" in page
    assert "over every invitation variant (split now: plain 50%, personal 50%)" in (
        headline_lines(report)
    )


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_wave_killed_mid_send_then_resumed_keeps_every_variant(
    project: Any, prefect_env: dict[str, str]
) -> None:
    with_variants(project)
    db_url = f"sqlite:///{project.root / 'cxops.db'}"
    env = {
        **os.environ,
        **prefect_env,
        "CXOPS_PROJECT_DIR": str(project.root),
        "CXOPS_BATCH_SIZE": "10",
    }

    def sent() -> int:
        if not (project.root / "cxops.db").exists():
            return 0
        try:
            return sum(row.status == "sent" for row in ledger(db_url, 0).values())
        except Exception:  # the store is being created and migrated
            return 0

    kill_after = random.Random(26).randint(20, 200)
    kill_cxops_once(["run", SURVEY], project.root, env, sent, kill_after, what="the wave")
    before = {key: row.variant for key, row in ledger(db_url, 0).items()}
    assert len(before) == 300 and None not in before.values()
    assert sent() < 300

    resumed = project.run(
        ["run", SURVEY, "--json"],
        env={k: env[k] for k in env if k.startswith(("CXOPS_", "PREFECT_"))},
    ).json
    after = ledger(db_url, 0)
    assert {key: row.variant for key, row in after.items()} == before
    assert resumed["sent"] + resumed["in_doubt"] == 300
    by_send = {row.send_id: row for row in after.values()}
    for message in outbox(project, "*.mbox"):
        assert subject(message) == expected_subject(by_send[message["X-Cxops-Send-Id"]])


def test_plan_preview_and_the_experiment_at_the_terminal(project: Any) -> None:
    with_variants(project)
    plan = project.run(["plan", SURVEY, "--json"]).json
    assert plan["variants"]["split"] == {"plain": 50.0, "personal": 50.0}
    assert sum(plan["variants"]["invitees"].values()) == plan["sampled"]
    preview = project.run(["preview", SURVEY, "--variant", "personal", "--count", "1", "--json"])
    assert preview.json[0]["subject"].endswith(", one question about Acme")
    unknown = project.run(["preview", SURVEY, "--variant", "nope"], expect_pass=False)
    assert "no invitation variant 'nope' (variants: plain, personal)" in unknown.output
    experiment = project.run(["report", SURVEY, "--experiment", "--json"]).json
    assert experiment["split"] == {"plain": 50.0, "personal": 50.0}
    assert experiment["history"] == [] and experiment["variants"]["plain"]["invited"] == 0
