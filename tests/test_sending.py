"""The send loop without Prefect: ledger first, never twice, nothing silently lost."""

from __future__ import annotations

import mailbox
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cxops.channels import make_channel
from cxops.channels.base import BatchContext, Delivery
from cxops.errors import TemplateError
from cxops.messages.render import InvitationRenderer
from cxops.messages.types import MessageGroup
from cxops.spec import find_survey
from cxops.store import claims, ledger
from cxops.store.db import open_store
from cxops.store.models import Response, Send
from cxops.store.suppressions import suppress
from cxops.wave.dry_run import dry_run_wave
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import long_lived_heap_frozen, prepare_wave
from cxops.wave.send import finish_summary, send_one_batch
from cxops.wave_labels import wave_label


def _survey(project, name="nps-quarterly"):
    return find_survey(name, project.root / "surveys", project.root)


def _send_all(store, survey, settings, channel, wave_id):
    renderer = InvitationRenderer(survey, settings, wave_id=wave_id)
    claim = claims.new_claim_id()
    wave = WaveContext.begin(survey, settings, wave_id)
    results = []
    while True:
        result = send_one_batch(store, wave, channel, renderer, claim)
        if result.claimed == 0:
            return results
        results.append(result)


def _outbox_messages(root: Path) -> list:
    return [m for path in sorted(root.rglob("*.mbox")) for m in mailbox.mbox(path)]


@pytest.fixture
def store(project, store_url):
    store = open_store(store_url)
    yield store
    store.dispose()


def test_a_wave_sends_each_sampled_person_once_and_resumes(project, store):
    settings = project.settings(batch_size=64)
    survey = _survey(project)
    planned = prepare_wave(store, WaveContext.begin(survey, settings))
    assert planned.sampled == 300 and planned.eligible > 300
    results = _send_all(store, survey, settings, make_channel(settings), planned.wave)
    assert len(results) == 5  # 300 in batches of 64
    summary = finish_summary(store, WaveContext.begin(survey, settings, planned.wave), planned)
    assert (summary.sent, summary.failed, summary.in_doubt) == (300, 0, 0)
    assert sum(seg["sent"] for seg in summary.by_segment.values()) == 300
    # the wave id is the schedule's slot; the summary also says when it went out
    first_sent = summary.as_dict()["first_sent_at"]
    assert first_sent is not None
    assert summary.label == wave_label(planned.wave, datetime.fromisoformat(first_sent))
    assert summary.label.startswith(f"wave {planned.wave} (scheduled ")
    assert ", sent " in summary.label and summary.as_dict()["wave_label"] == summary.label

    messages = _outbox_messages(settings.outbox_path / survey.id / planned.wave)
    recipients = [m["To"] for m in messages]
    assert len(recipients) == len(set(recipients)) == 300
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in messages)

    again = prepare_wave(store, WaveContext.begin(survey, settings))
    assert "resumed" in again.notes[-1]
    assert _send_all(store, survey, settings, make_channel(settings), planned.wave) == []
    assert len(_outbox_messages(settings.outbox_path)) == 300


def test_the_next_wave_excludes_people_surveyed_within_the_window(project, store):
    settings = project.settings()
    survey = _survey(project)
    first = prepare_wave(store, WaveContext.begin(survey, settings, "w1"))
    _send_all(store, survey, settings, make_channel(settings), "w1")
    second = prepare_wave(store, WaveContext.begin(survey, settings, "w2"))
    # everyone invited in w1 is held back (their duplicate-email twins too: the
    # stronger reason wins); nobody is invited twice across waves
    duplicates = first.excluded.get("duplicate_email", 0)
    assert second.excluded == {"surveyed_within": first.sampled + duplicates}
    with store.session() as session:
        w1 = set(session.scalars(select(Send.email).where(Send.wave_id == "w1")))
        w2 = set(session.scalars(select(Send.email).where(Send.wave_id == "w2")))
    assert not w1 & w2


def test_the_contact_cap_holds_across_surveys(project, store):
    settings = project.settings()
    nps = _survey(project)
    prepare_wave(store, WaveContext.begin(nps, settings, "w1"))
    _send_all(store, nps, settings, make_channel(settings), "w1")
    ces = _survey(project, "ces-onboarding")
    planned = prepare_wave(store, WaveContext.begin(ces, settings, "w1"))
    assert planned.excluded.get("contact_cap", 0) > 0


def test_people_who_unsubscribe_after_planning_are_skipped_at_send_time(project, store):
    settings = project.settings()
    survey = _survey(project)
    planned = prepare_wave(store, WaveContext.begin(survey, settings))
    with store.session() as session:
        victim = session.scalars(select(Send.email).where(Send.wave_id == planned.wave)).first()
        suppress(session, victim, "unsubscribed", source="test", now=settings.clock())
    _send_all(store, survey, settings, make_channel(settings), planned.wave)
    summary = finish_summary(store, WaveContext.begin(survey, settings, planned.wave), planned)
    assert summary.sent == 299 and summary.skipped == 1
    recipients = " ".join(m["To"] for m in _outbox_messages(settings.outbox_path))
    assert victim not in recipients


class ExplodingChannel:
    name = "exploding"

    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        raise ConnectionResetError("the relay hung up mid-batch")

    def close(self) -> None:
        pass


def test_a_channel_crash_leaves_the_batch_in_doubt_not_resent(project, store):
    settings = project.settings(batch_size=50)
    survey = _survey(project)
    planned = prepare_wave(store, WaveContext.begin(survey, settings))
    renderer = InvitationRenderer(survey, settings, wave_id=planned.wave)
    with pytest.raises(ConnectionResetError):
        send_one_batch(
            store,
            WaveContext.begin(survey, settings, planned.wave),
            ExplodingChannel(),
            renderer,
            "h:1:x",
        )
    _send_all(store, survey, settings, make_channel(settings), planned.wave)
    summary = finish_summary(store, WaveContext.begin(survey, settings, planned.wave), planned)
    assert (summary.sent, summary.in_doubt) == (250, 50)
    assert "--resend-in-doubt" in summary.notes[-1]
    assert claims.resend_in_doubt(store, survey.id, planned.wave, 0) == 50
    _send_all(store, survey, settings, make_channel(settings), planned.wave)
    assert (
        finish_summary(store, WaveContext.begin(survey, settings, planned.wave), planned).sent
        == 300
    )


def test_a_broken_template_releases_the_batch_for_a_later_run(project, store):
    settings = project.settings(batch_size=100)
    survey = _survey(project)
    planned = prepare_wave(store, WaveContext.begin(survey, settings))
    project.write({"templates/nps_invite.txt.j2": "{{ contact.name.nonexistent() }}"})
    broken = InvitationRenderer(survey, settings, wave_id=planned.wave)
    with pytest.raises(Exception):  # noqa: B017 - any render error
        send_one_batch(
            store,
            WaveContext.begin(survey, settings, planned.wave),
            make_channel(settings),
            broken,
            "h:1:y",
        )
    counts = ledger.wave_counts(store, survey.id, planned.wave)
    assert counts["pending"] == 300 and counts["sent"] == 0 and counts["in_doubt"] == 0


def test_a_dry_run_renders_everything_and_stores_nothing(project):
    settings = project.settings()
    summary = dry_run_wave(WaveContext.begin(_survey(project), settings))
    assert summary.rendered == summary.sampled == 300
    assert not (project.root / "cxops.db").exists()
    assert not settings.outbox_path.exists()


def test_interviews_invite_a_batch_per_wave_until_the_goal(project, store):
    settings = project.settings()
    survey = _survey(project, "interviews-power-users")
    first = prepare_wave(store, WaveContext.begin(survey, settings, "w1"))
    assert first.sampled == survey.interview.batch == 20
    _send_all(store, survey, settings, make_channel(settings), "w1")
    with store.session() as session:
        sends = session.scalars(select(Send).where(Send.wave_id == "w1")).all()
        for send in sends[: survey.interview.goal]:
            session.add(
                Response(
                    send_id=send.send_id,
                    survey_id=survey.id,
                    wave_id="w1",
                    contact_key=send.contact_key,
                    segment=send.segment,
                    status="complete",
                    answers={"accepted": True, "consent": True},
                    first_answered_at=settings.clock(),
                    submitted_at=settings.clock(),
                    updated_at=settings.clock(),
                    # provisional (no person confirmed) until the last step below
                    confirmed_at=None,
                )
            )
    provisional = prepare_wave(store, WaveContext.begin(survey, settings, "w2"))
    assert provisional.sampled == survey.interview.batch  # provisional counts nowhere
    with store.session(write=True) as session:
        for response in session.scalars(select(Response)):
            response.confirmed_at = settings.clock()
    second = prepare_wave(store, WaveContext.begin(survey, settings, "w3"))
    assert second.sampled == 0 and "goal reached" in second.notes[-1]


def test_a_contact_that_cannot_be_rendered_stops_the_wave_and_sends_nothing_of_its_batch(
    project, store
):
    settings = project.settings(batch_size=1000)
    survey = _survey(project)
    planned = prepare_wave(store, WaveContext.begin(survey, settings))
    # a template that breaks only for one contact's data, on its line 2
    project.write(
        {
            "templates/nps_invite.txt.j2": (
                "Hello {{ contact.name }} {{ links.answer }}\n"
                "{% if contact.id == 'c-00002' %}{{ contact.nothing.deeper }}{% endif %}"
            )
        }
    )
    renderer = InvitationRenderer(survey, settings, wave_id=planned.wave)
    with pytest.raises(TemplateError) as caught:
        send_one_batch(
            store,
            WaveContext.begin(survey, settings, planned.wave),
            make_channel(settings),
            renderer,
            "h:1:z",
        )
    message = str(caught.value)
    assert "contact 'c-00002'" in message and "nps_invite.txt.j2' line 2" in message, message
    assert "\n" not in message
    counts = ledger.wave_counts(store, survey.id, planned.wave)
    assert (counts["pending"], counts["sent"], counts["failed"]) == (300, 0, 0)
    assert not _outbox_messages(project.root / "outbox")


def test_the_long_lived_heap_is_frozen_only_while_a_wave_runs() -> None:
    import gc

    before = gc.get_freeze_count()
    with long_lived_heap_frozen():
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == 0
