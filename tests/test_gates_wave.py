"""The wave asks its gates (SQLite and PostgreSQL): at plan, before and after a claim, and
before a reminder; every hold and skip is in the ledger with its reason and in `held`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cxops.channels import make_channel
from cxops.channels.base import Delivery
from cxops.gates.base import SEND, Candidate, Decision, Gates, Hold, Moment, Skip
from cxops.gates.goal import GoalGate
from cxops.gates.policy import PolicyGate
from cxops.gates.registry import gates_for
from cxops.interviews.service import GOAL_REACHED
from cxops.messages.render import InvitationRenderer
from cxops.spec import find_survey
from cxops.store import claims, ledger
from cxops.store.db import Store, open_store
from cxops.store.holds import held_counts
from cxops.store.models import Send
from cxops.wave.ids import WaveContext
from cxops.wave.plan import plan_wave
from cxops.wave.prepare import ledger_row, prepare_wave
from cxops.wave.remind import plan_step
from cxops.wave.send import finish_summary, send_one_batch

NPS = "nps-quarterly"
LATER = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@dataclass
class RuleGate:
    """A gate for tests: skips or holds segments and people by name."""

    name: str = "test"
    skip_segments: frozenset[str] = frozenset()
    hold_segments: frozenset[str] = frozenset()
    hold_keys: frozenset[str] = frozenset()
    skip_keys: frozenset[str] = frozenset()
    moments: tuple[Moment, ...] = (Moment.PLAN, Moment.CLAIM, Moment.REMIND)

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        if moment not in self.moments:
            return SEND
        if candidate.contact_key in self.skip_keys:
            return Skip("test skip")
        if candidate.contact_key in self.hold_keys:
            return Hold(LATER, "test hold")
        return SEND

    def for_segment(self, segment: str, now: datetime) -> Decision:
        if segment in self.skip_segments:
            return Skip("segment skip")
        if segment in self.hold_segments:
            return Hold(LATER, "segment hold")
        return SEND


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = open_store(store_url)
    yield store
    store.dispose()


def rows_of(store: Store, wave_id: str, step: int = 0) -> list[Send]:
    with store.session() as session:
        return list(
            session.scalars(
                select(Send).where(Send.wave_id == wave_id, Send.step == step).order_by(Send.id)
            )
        )


def sent_by(store: Store, email: str, *, survey: str, at: datetime, segment: str = "s") -> None:
    """One invitation of another survey that reached `email` at `at`."""
    row = {"contact_key": email, "email": email, "segment": segment, "contact": {}}
    ledger.add_invitees(store, survey, "x", 0, [row], at)
    claim = f"t:{email}:{survey}"
    (claimed,) = claims.claim_batch(store, survey, "x", 0, claim, 10, at)
    claims.mark_results(store, claim, [Delivery(claimed.send_id, "sent")], at)


def test_the_registry_lists_the_policy_and_the_interview_goal(project: Any, store: Store) -> None:
    settings = project.settings()
    nps = find_survey(NPS, project.root / "surveys", project.root)
    study = find_survey("interviews-power-users", project.root / "surveys", project.root)
    wave = WaveContext.begin(nps, settings, "w1")
    assert [type(gate) for gate in gates_for(store, wave).gates] == [PolicyGate]
    assert [type(gate) for gate in gates_for(None, wave).gates] == [PolicyGate]
    study_wave = WaveContext.begin(study, settings, "w1")
    assert [type(gate) for gate in gates_for(store, study_wave).gates] == [PolicyGate, GoalGate]
    # no cap, no policy.yaml: no policy gate, so a wave asks nobody anything
    open_wave = WaveContext.begin(nps, project.settings(contact_cap="none"), "w1")
    assert gates_for(store, open_wave).gates == ()


def test_a_gate_at_plan_skips_some_and_plans_others_to_wait(project: Any) -> None:
    settings = project.settings()
    survey = find_survey(NPS, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    ungated = plan_wave(wave)
    keys = [invitee.contact.key for invitee in ungated.invitees]
    gate = RuleGate(skip_keys=frozenset(keys[:3]), hold_keys=frozenset(keys[3:10]))
    plan = plan_wave(wave, gates=Gates((gate,)))
    invitees = list(plan.invitees)
    summary = plan.summary()
    assert summary.excluded.get("test skip") == 3
    assert summary.eligible == ungated.summary().eligible - 3
    waiting = [invitee for invitee in invitees if invitee.waits is not None]
    assert {invitee.contact.key for invitee in waiting} <= set(keys[3:10])
    assert summary.held == {"test hold": len(waiting)}
    assert summary.as_dict()["held"] == {"test hold": len(waiting)}
    row = ledger_row(waiting[0])
    assert (row["not_before"], row["held"]) == (LATER, "test hold")
    assert "not_before" not in ledger_row(next(i for i in invitees if i.waits is None))


def test_at_claim_a_skipped_segment_and_held_rows_wait_or_skip_with_their_reason(
    project: Any, store: Store
) -> None:
    settings = project.settings(batch_size=1000, contact_cap="none")
    survey = find_survey(NPS, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    planned = prepare_wave(store, wave)
    rows = rows_of(store, "w1")
    growth = [row for row in rows if row.segment == "growth"]
    others = [row for row in rows if row.segment != "growth"]
    held = frozenset(row.contact_key for row in others[:4])
    skipped = frozenset(row.contact_key for row in others[4:6])
    gate = RuleGate(skip_segments=frozenset({"growth"}), hold_keys=held, skip_keys=skipped)
    renderer = InvitationRenderer(survey, settings, wave_id="w1")
    channel = make_channel(settings)
    result = send_one_batch(
        store, wave, channel, renderer, claims.new_claim_id(), gates=Gates((gate,))
    )
    assert result.claimed == len(others)
    assert result.sent == len(others) - 6
    assert result.gated == {"test hold": 4, "test skip": 2}
    after = {row.contact_key: row for row in rows_of(store, "w1")}
    for row in growth:
        assert (after[row.contact_key].status, after[row.contact_key].error) == (
            "skipped",
            "segment skip",
        )
    for key in held:
        row = after[key]
        assert (row.status, row.held, row.not_before, row.claim_id) == (
            "pending",
            "test hold",
            LATER,
            None,
        )
    for key in skipped:
        assert (after[key].status, after[key].error, after[key].held) == (
            "skipped",
            "test skip",
            "test skip",
        )
    summary = finish_summary(store, wave, planned)
    assert summary.held == {"segment skip": len(growth), "test hold": 4, "test skip": 2}
    assert summary.sent == len(others) - 6 and summary.skipped == len(growth) + 2
    assert held_counts(store, survey.id, "w1", 0) == summary.held


def test_a_held_segment_waits_and_only_the_others_are_claimed(project: Any, store: Store) -> None:
    settings = project.settings(batch_size=1000, contact_cap="none")
    survey = find_survey(NPS, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    prepare_wave(store, wave)
    gate = RuleGate(hold_segments=frozenset({"enterprise"}))
    renderer = InvitationRenderer(survey, settings, wave_id="w1")
    send_one_batch(
        store, wave, make_channel(settings), renderer, claims.new_claim_id(), gates=Gates((gate,))
    )
    for row in rows_of(store, "w1"):
        if row.segment == "enterprise":
            assert (row.status, row.held, row.not_before) == ("pending", "segment hold", LATER)
        else:
            assert (row.status, row.held) == ("sent", None)


def test_claim_batch_takes_only_the_segments_it_is_given(store: Store) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    rows = [
        {"contact_key": f"k{i}", "email": f"p{i}@example.com", "segment": "ab"[i % 2]}
        for i in range(10)
    ]
    ledger.add_invitees(store, "s", "w", 0, rows, now)
    claimed = claims.claim_batch(store, "s", "w", 0, "c1", 100, now, segments=["b"])
    assert sorted(row.contact_key for row in claimed) == [f"k{i}" for i in (1, 3, 5, 7, 9)]
    assert claims.claim_batch(store, "s", "w", 0, "c2", 100, now, segments=[]) == []
    rest = claims.claim_batch(store, "s", "w", 0, "c3", 100, now)
    assert len(rest) == 5 and {row.segment for row in rest} == {"a"}


def test_the_cap_reached_after_planning_holds_the_row_until_it_frees(
    project: Any, store: Store
) -> None:
    settings = project.settings(batch_size=1000)  # the default cap: 1 per 30d
    survey = find_survey(NPS, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    prepare_wave(store, wave)
    first, second = rows_of(store, "w1")[:2]
    other_at = wave.now - timedelta(hours=1)
    sent_by(store, first.email, survey="csat-support", at=other_at)  # after planning
    renderer = InvitationRenderer(survey, settings, wave_id="w1")
    result = send_one_batch(store, wave, make_channel(settings), renderer, claims.new_claim_id())
    assert result.gated == {"contact_cap": 1}
    after = {row.contact_key: row for row in rows_of(store, "w1")}
    held = after[first.contact_key]
    assert (held.status, held.held) == ("pending", "contact_cap")
    assert held.not_before == other_at + timedelta(days=30)
    assert after[second.contact_key].status == "sent"


def test_a_per_account_rule_does_not_hold_at_claim_the_person_planning_let_through(
    project: Any, store: Store
) -> None:
    project.write(
        {
            "policy.yaml": (
                'rules:\n  - name: one-per-company\n    when: "true"\n'
                "    limit: 1 per 30d\n    per: contact.company\n"
            )
        }
    )
    settings = project.settings(batch_size=1000, contact_cap="none")
    survey = find_survey(NPS, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    planned = prepare_wave(store, wave)
    assert planned.sampled > 0
    renderer = InvitationRenderer(survey, settings, wave_id="w1")
    result = send_one_batch(store, wave, make_channel(settings), renderer, claims.new_claim_id())
    assert (result.sent, result.gated) == (planned.sampled, {})


def test_the_interview_goal_skips_segments_at_claim_and_reminders(
    project: Any, store: Store
) -> None:
    settings = project.settings()
    study = find_survey("interviews-power-users", project.root / "surveys", project.root)
    reached = GoalGate(store, study, holding=study.interview.goal if study.interview else 0)
    person = Candidate("k", "p@example.com", "other", 0, {})
    now = settings.clock()
    assert reached.for_contact(person, Moment.PLAN, now) == Skip(GOAL_REACHED)
    assert reached.for_contact(person, Moment.REMIND, now) == Skip("goal reached")
    assert reached.for_contact(person, Moment.CLAIM, now) == SEND
    assert reached.for_segment("other", now) == Skip(GOAL_REACHED)
    assert reached.notes() == ["interview goal reached: nobody more is invited"]
    open_goal = GoalGate(store, study, holding=0)
    assert open_goal.for_contact(person, Moment.PLAN, now) == SEND
    assert open_goal.for_segment("other", now) == SEND  # nobody accepted in the store
    assert open_goal.notes() == []


def test_a_reminder_held_by_a_gate_is_planned_to_wait_and_a_skip_is_counted(
    project: Any, store: Store
) -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    settings = project.settings(batch_size=1000, contact_cap="none", now=start)
    survey = find_survey(NPS, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    prepare_wave(store, wave)
    renderer = InvitationRenderer(survey, settings, wave_id="w1")
    assert send_one_batch(store, wave, make_channel(settings), renderer, "c1").sent > 3
    invited = [row.contact_key for row in rows_of(store, "w1")]
    reminder = survey.invitation.reminder
    assert reminder is not None
    later = project.settings(contact_cap="none", now=start + timedelta(days=10))
    step = WaveContext(survey, later, "w1", later.clock(), 1)
    gate = RuleGate(hold_keys=frozenset(invited[:2]), skip_keys=frozenset(invited[2:3]))
    plan = plan_step(store, step, Gates((gate,)))
    assert plan.skipped["test skip"] == 1
    assert plan.held == {"test hold": 2}
    waiting = [row for row in plan.rows if "not_before" in row]
    assert sorted(row["contact_key"] for row in waiting) == sorted(invited[:2])
    assert all((row["not_before"], row["held"]) == (LATER, "test hold") for row in waiting)
    assert plan.due == len(invited) - 1


def test_why_and_status_show_what_a_gate_holds_back(project: Any) -> None:
    settings = project.settings(batch_size=1000, contact_cap="none")
    survey = find_survey(NPS, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    store = open_store(settings.store_url)
    try:
        prepare_wave(store, wave)
        waiting, skipped = (row.contact_key for row in rows_of(store, "w1")[:2])
        emails = {row.contact_key: row.email for row in rows_of(store, "w1")}
        gate = RuleGate(hold_keys=frozenset({waiting}), skip_keys=frozenset({skipped}))
        renderer = InvitationRenderer(survey, settings, wave_id="w1")
        send_one_batch(store, wave, make_channel(settings), renderer, "c1", gates=Gates((gate,)))
    finally:
        store.dispose()
    env = {"CXOPS_CONTACT_CAP": "none", "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    why = project.run(["why", emails[waiting], NPS, "--json"], env=env).json
    (verdict,) = why["surveys"]
    assert [(g["reason"], g["status"], g["until"]) for g in verdict["gated"]] == [
        ("test hold", "pending", LATER.isoformat())
    ]
    assert (
        "invitation of wave w1: waiting until 2027-01-04 09:00 UTC (test hold)"
        in (verdict["lines"])
    )
    why_skipped = project.run(["why", emails[skipped], NPS], env=env).stdout
    assert "skipped (test skip), not sent" in why_skipped
    status = project.run(["status", "--json"], env=env).json
    (open_wave,) = status["open_waves"]
    assert open_wave["held"] == {"test hold": 1, "test skip": 1}
    human = project.run(["status"], env=env).stdout
    assert "waiting or skipped because of a gate: test hold 1, test skip 1" in human


@dataclass
class PastHold:
    """A gate that holds everyone until a moment already past."""

    name: str = "past"

    def for_contact(self, candidate: Candidate, moment: Moment, now: datetime) -> Decision:
        return Hold(now - timedelta(seconds=1), "past hold")

    def for_segment(self, segment: str, now: datetime) -> Decision:
        return Hold(now - timedelta(seconds=1), "past hold")


def test_a_hold_until_a_moment_already_past_lets_the_rows_go(project: Any, store: Store) -> None:
    settings = project.settings(batch_size=1000, contact_cap="none")
    survey = find_survey(NPS, project.root / "surveys", project.root)
    wave = WaveContext.begin(survey, settings, "w1")
    planned = prepare_wave(store, wave)
    renderer = InvitationRenderer(survey, settings, wave_id="w1")
    result = send_one_batch(
        store, wave, make_channel(settings), renderer, "c1", gates=Gates((PastHold(),))
    )
    assert (result.sent, result.gated) == (planned.sampled, {})
    assert {row.held for row in rows_of(store, "w1")} == {None}
