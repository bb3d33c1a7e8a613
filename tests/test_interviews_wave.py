"""Interview recruitment on the wave path: the goal stops a wave mid-way, a no-show reopens
recruiting, the contact policy applies to recruiting too (SQLite and PostgreSQL)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from cxops.channels import make_channel
from cxops.interviews.screen import interview_answers
from cxops.interviews.service import mark
from cxops.messages.render import InvitationRenderer
from cxops.spec import find_survey
from cxops.store import claims
from cxops.store.db import Store, open_store
from cxops.store.models import Send
from cxops.store.responses import save_answers
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave
from cxops.wave.send import finish_summary, send_one_batch

STUDY = "interviews-power-users"


@pytest.fixture
def store(project: Any, store_url: str) -> Iterator[Store]:
    text = (project.root / "surveys" / f"{STUDY}.yaml").read_text()
    project.write({f"surveys/{STUDY}.yaml": text.replace("goal: 8 ", "goal: 3 ")})
    store = open_store(store_url)
    yield store
    store.dispose()


def batches(store: Store, wave: WaveContext, settings: Any, limit: int) -> int:
    """Send up to `limit` ledger batches of the wave; how many went."""
    renderer = InvitationRenderer(wave.survey, settings, wave_id=wave.wave_id)
    claim, done = claims.new_claim_id(), 0
    channel = make_channel(settings)
    while done < limit and send_one_batch(store, wave, channel, renderer, claim).claimed:
        done += 1
    return done


def accept(store: Store, settings: Any, survey: Any, sends: list[str]) -> None:
    values = {"accepted": True, "consent": True}
    for send_id in sends:
        answers = interview_answers(survey, values, settings.clock())
        save_answers(store, send_id, answers, complete=True, now=settings.clock())


def sent_ids(store: Store, wave_id: str) -> list[str]:
    with store.session() as session:
        return list(
            session.scalars(
                select(Send.send_id).where(Send.wave_id == wave_id, Send.status == "sent")
            )
        )


def test_the_goal_reached_mid_wave_stops_the_rest_and_a_no_show_reopens(
    project: Any, store: Store
) -> None:
    settings = project.settings(batch_size=5)
    survey = find_survey(STUDY, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    planned = prepare_wave(store, wave)
    assert planned.sampled == 20
    assert batches(store, wave, settings, limit=1) == 1
    first = sent_ids(store, "w1")
    assert len(first) == 5
    accept(store, settings, survey, first[:3])  # the goal (3) is reached while the wave runs
    assert batches(store, wave, settings, limit=10) == 0
    summary = finish_summary(store, wave, planned)
    assert (summary.sent, summary.skipped, summary.pending) == (5, 15, 0)
    assert "interview goal reached during the wave: 15 invitations not sent" in summary.notes
    assert summary.recruitment is not None
    assert summary.recruitment["accepted"] == 3 and summary.recruitment["goal_reached"]
    assert summary.as_dict()["recruitment"]["invited"] == 5
    outbox = list((settings.outbox_path / STUDY / "w1").rglob("*.mbox"))
    assert sum(len(mailbox.mbox(path)) for path in outbox) == 5
    # the next run invites nobody and says so
    full = prepare_wave(store, WaveContext.begin(survey, settings, "w2"))
    assert full.sampled == 0 and any("goal reached" in note for note in full.notes)
    # a no-show frees a place: the run after it recruits again
    mark(store, [survey], first[0], "no-show", settings.clock())
    reopened = prepare_wave(store, WaveContext.begin(survey, settings, "w3"))
    assert reopened.sampled == 20
    assert not any("goal reached" in note for note in reopened.notes)


def test_the_contact_policy_holds_back_interview_recruits(project: Any, store: Store) -> None:
    project.write(
        {
            "policy.yaml": (
                "rules:\n  - name: no-enterprise-studies\n"
                "    when: \"contact.plan == 'enterprise'\"\n    limit: never\n"
            )
        }
    )
    settings = project.settings()
    survey = find_survey(STUDY, project.root / "surveys", project.root)
    planned = prepare_wave(store, WaveContext.begin(survey, settings, "w1"))
    assert planned.excluded.get("policy:no-enterprise-studies", 0) > 0
    with store.session() as session:
        plans = [row["plan"] for row in session.scalars(select(Send.contact))]
    assert plans and "enterprise" not in plans
