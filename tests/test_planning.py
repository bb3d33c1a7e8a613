"""`cxops plan` and `cxops preview`: read-only, the summary's shape, history from the store."""

from __future__ import annotations

import hashlib
from email import policy
from email.parser import BytesParser

from cxops.channels import make_channel
from cxops.messages.render import InvitationRenderer
from cxops.spec import find_survey
from cxops.store.db import open_store
from cxops.store.suppressions import suppress
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave
from cxops.wave.send import send_one_batch

SUMMARY_KEYS = {
    "survey",
    "wave",
    "audience",
    "filtered_out",
    "excluded",
    "eligible",
    "sampled",
    "sent",
    "in_doubt",
    "failed",
    "by_segment",
    "bad_rows",
}


def test_plan_json_has_the_wave_summary_shape_and_writes_nothing(project):
    summary = project.run(["plan", "nps-quarterly", "--json"]).json
    assert set(summary) >= SUMMARY_KEYS
    assert (summary["audience"], summary["eligible"], summary["sampled"]) == (600, 379, 300)
    assert summary["audience"] == (
        len(summary["bad_rows"])
        + summary["filtered_out"]
        + sum(summary["excluded"].values())
        + summary["eligible"]
    )
    assert {name: seg["sampled"] for name, seg in summary["by_segment"].items()} == {
        "enterprise": 56,
        "growth": 101,
        "smb": 143,
    }
    assert all(set(row) == {"row", "key", "reason"} for row in summary["bad_rows"])
    assert any("no store yet" in note for note in summary["notes"])
    assert not (project.root / "cxops.db").exists()
    assert not (project.root / "outbox").exists()


def test_plan_is_reproducible_and_lists_invitees(project):
    first = project.run(["plan", "nps-quarterly", "--json", "--invitees"]).json
    second = project.run(["plan", "nps-quarterly", "--json", "--invitees"]).json
    assert first["invitees"] == second["invitees"] and len(first["invitees"]) == 300
    human = project.run(["plan", "nps-quarterly"]).stdout
    assert "bad rows" in human and "row" in human and "duplicate key" in human
    # the wave id is the schedule's slot, not a send date: the plan says so
    assert f"wave {first['wave']} (scheduled " in human and "not sent yet)" in human
    assert first["wave_label"].startswith(f"wave {first['wave']} (scheduled ")


def test_plan_reads_history_from_the_store_without_changing_it(project):
    settings = project.settings()
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    store = open_store(settings.store_url)
    wave = WaveContext.begin(survey, settings)
    planned = prepare_wave(store, wave)
    renderer = InvitationRenderer(survey, settings, wave_id=planned.wave)
    send_one_batch(store, wave, make_channel(settings), renderer, "h:1:p")
    with store.session() as session:
        suppress(session, "zoe.brown@example.com", "unsubscribed", source="t", now=settings.clock())
    store.dispose()
    database = project.root / "cxops.db"
    before = hashlib.sha256(database.read_bytes()).hexdigest()

    same_wave = project.run(["plan", "nps-quarterly", "--json"]).json
    # its own wave's invitations never exclude the wave's people (a re-run resumes)
    assert same_wave["sampled"] == 300 and "surveyed_within" not in same_wave["excluded"]
    next_wave = project.run(["plan", "nps-quarterly", "--wave", "next", "--json"]).json
    assert next_wave["excluded"]["surveyed_within"] >= 300
    assert not any("no store yet" in note for note in next_wave["notes"])
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_plan_of_an_unknown_survey_is_a_clear_error(project):
    result = project.run(["plan", "no-such-survey"], expect_pass=False)
    assert "no-such-survey" in result.stderr and "Traceback" not in result.stderr


def test_preview_writes_html_text_and_eml_for_chosen_contacts(project):
    out = project.root / "preview"
    project.run(["preview", "nps-quarterly", "--contact", "c-00002", "--out", str(out)])
    html = (out / "c-00002.html").read_text()
    assert "?score=10" in html and "/u/" in html
    # a project template overrides the built-in one by name; names are data, never markup
    project.write(
        {"templates/nps_invite.html.j2": "<p>Hi {{ contact.name }}</p>{{ links.answer }}"}
    )
    project.run(["preview", "nps-quarterly", "--contact", "c-00173", "--out", str(out)])
    html = (out / "c-00173.html").read_text()
    assert html.startswith("<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>http")
    text = (out / "c-00173.txt").read_text()
    assert text.startswith("Subject: ") and "?score=0" in text
    message = BytesParser(policy=policy.default).parsebytes((out / "c-00173.eml").read_bytes())
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(preferencelist=("plain",)).get_content().strip()


def test_preview_picks_the_locale_and_prints_text(project):
    result = project.run(["preview", "ces-onboarding", "--count", "1", "--locale", "de"])
    assert "Subject:" in result.stdout and " de " in result.stdout
    data = project.run(["preview", "ces-onboarding", "--count", "2", "--json"]).json
    assert len(data) == 2 and all(item["html"].startswith("<!DOCTYPE html>") for item in data)


def test_preview_of_an_unknown_contact_names_it(project):
    result = project.run(["preview", "nps-quarterly", "--contact", "nobody"], expect_pass=False)
    assert "'nobody'" in result.stderr and "Traceback" not in result.stderr
