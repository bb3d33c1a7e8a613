"""The quota gate: its precision rule against known values, rounds planned into the ledger
(nobody twice), and a quota reached while a round is in flight (at most one round over)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from cxops.durations import parse_duration
from cxops.gates.base import SEND, Gates, Skip
from cxops.gates.quota import (
    QUOTA_MET,
    ROUND_HELD,
    QuotaGate,
    ci_width,
    has_enough,
    nps_margin,
    quota_gate,
    round_due,
)
from cxops.spec import find_survey
from cxops.spec.models import Quota
from cxops.store.db import Store, open_store
from cxops.store.ledger import add_invitees
from cxops.store.models import Response, Send
from cxops.store.quotas import segment_answers, segment_history
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import prepare_wave

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)

# -- the precision rule -----------------------------------------------------------------


def test_the_nps_margin_is_rocks_adjusted_wald_half_width_in_points() -> None:
    # 50 promoters, 30 passives, 20 detractors of 100: 0.1405-0.4420 (Rocks 2016).
    scores = {10: 50, 8: 30, 3: 20, None: 7}  # 7 answered without a score: not counted
    assert nps_margin(scores) == pytest.approx(15.075, abs=0.005)
    assert nps_margin({}) == pytest.approx(80.015, abs=0.005)  # nothing known yet
    quota = Quota(nps_margin=15.1)
    assert has_enough(quota, "nps", "any", scores)
    assert not has_enough(Quota(nps_margin=15.0), "nps", "any", scores)


def test_the_ci_width_is_the_full_wilson_width_of_the_top_box_in_points() -> None:
    # 81 of 263 satisfied: 0.2553-0.3662 (Newcombe 1998, Wilson's worked example).
    csat = {5: 40, 4: 41, 3: 100, 1: 82}
    assert ci_width("csat", csat) == pytest.approx(11.09, abs=0.01)
    # CES: 5-7 count as easy; 15 of 148 -> 0.0624-0.1605.
    ces = {7: 15, 4: 100, 2: 33}
    assert ci_width("ces", ces) == pytest.approx(9.81, abs=0.01)
    assert ci_width("csat", {}) == 100.0
    assert has_enough(Quota(ci_width=11.1), "csat", "any", csat)
    assert not has_enough(Quota(ci_width=11.0), "csat", "any", csat)


def test_a_quota_of_answers_counts_confirmed_answers_per_segment() -> None:
    named = Quota.model_validate({"enterprise": 3, "smb": 5})
    assert has_enough(named, "nps", "enterprise", {9: 2, None: 1})
    assert not has_enough(named, "nps", "smb", {9: 4})
    assert not has_enough(named, "nps", "growth", {9: 400})  # no quota: never enough
    assert has_enough(Quota(per_segment=2), "nps", "growth", {0: 2})


def test_the_gate_skips_a_segment_that_has_enough_and_reads_answers_once_per_claim() -> None:
    reads = itertools.count()
    answers = {"enterprise": Counter({9: 3}), "smb": Counter({9: 1})}

    def read() -> dict[str, Counter[int | None]]:
        next(reads)
        return answers

    gate = QuotaGate(Quota(per_segment=3), "nps", read)
    gates = Gates((gate,))
    assert gates.for_segment("enterprise", NOW) == Skip(QUOTA_MET)
    assert gates.for_segment("smb", NOW) == SEND
    assert gates.for_segment("growth", NOW) == SEND
    assert next(reads) == 1  # one read for the three segments of one claim
    answers["smb"][10] += 2
    assert gates.for_segment("smb", NOW + timedelta(seconds=1)) == Skip(QUOTA_MET)


def test_round_k_is_due_k_minus_one_periods_after_the_start() -> None:
    every = parse_duration("3d")
    assert [round_due(NOW, every, k) for k in (1, 2, 3)] == [
        NOW,
        NOW + timedelta(days=3),
        NOW + timedelta(days=6),
    ]
    # 2026-12-07 is a Monday: two business days each, over the weekend.
    business = parse_duration("2 business days")
    assert round_due(NOW, business, 3).date().isoformat() == "2026-12-11"
    assert round_due(NOW, business, 4).date().isoformat() == "2026-12-15"


# -- the store: answers per segment, history ----------------------------------------------


def _answer(store: Store, send: Send, score: int | None, *, confirmed: bool = True) -> None:
    answers = {} if score is None else {"score": score}
    with store.session(write=True) as session:
        session.add(
            Response(
                send_id=send.send_id,
                survey_id=send.survey_id,
                wave_id=send.wave_id,
                contact_key=send.contact_key,
                segment=send.segment,
                status="complete",
                answers=answers,
                first_answered_at=NOW,
                updated_at=NOW,
                confirmed_at=NOW if confirmed else None,
            )
        )


def _rows(store: Store, **where: object) -> list[Send]:
    with store.session() as session:
        query = select(Send).filter_by(**where).order_by(Send.id)
        rows = list(session.scalars(query))
        session.expunge_all()
    return rows


def test_segment_answers_count_confirmed_scores_per_segment(store: Store) -> None:
    rows = [
        {"contact_key": f"c{n}", "email": f"p{n}@x.example", "segment": seg, "locale": "en"}
        for n, seg in enumerate(["a", "a", "a", "b", "b"])
    ]
    add_invitees(store, "s", "w1", 0, rows, NOW)
    add_invitees(store, "s", "w0", 0, rows, NOW)
    sends = _rows(store, wave_id="w1")
    _answer(store, sends[0], 10)
    _answer(store, sends[1], 3)
    _answer(store, sends[2], 9, confirmed=False)  # provisional: counted nowhere
    _answer(store, sends[3], None)  # answered, not the score
    old = _rows(store, wave_id="w0")
    with store.connect(write=True) as conn:
        conn.execute(update(Send).where(Send.wave_id == "w0").values(status="sent"))
    _answer(store, old[0], 7)

    assert segment_answers(store, "s", "w1", "score") == {
        "a": Counter({10: 1, 3: 1}),
        "b": Counter({None: 1}),
    }
    assert segment_answers(store, "s", "w1", None) == {
        "a": Counter({None: 2}),
        "b": Counter({None: 1}),
    }
    history = segment_history(store, "s", "w1", "score")
    assert (history["a"].invited, history["a"].answered, history["a"].scores) == (3, 1, {7: 1})
    assert (history["b"].invited, history["b"].answered) == (2, 0)


# -- rounds in the ledger, a quota reached mid-round ----------------------------------------

ROUNDS_SURVEY = "nps-rounds"


def _rounds_project(project, quota: str) -> None:
    text = project.path("surveys/nps-quarterly.yaml").read_text(encoding="utf-8")
    text = text.replace("id: nps-quarterly", f"id: {ROUNDS_SURVEY}").replace(
        "  sample:\n    size: 300\n    stratify: segment\n    seed: 7\n",
        f"  sample: {{seed: 7}}\n  quota:\n{quota}",
    )
    assert ROUNDS_SURVEY in text and "rounds:" in text
    project.write({"surveys/nps-rounds.yaml": text})


def _planned(project) -> tuple[Store, WaveContext]:
    settings = project.settings(now=NOW)
    survey = find_survey(ROUNDS_SURVEY, project.root / "surveys", project.root)
    store = open_store(settings.store_url)
    wave = WaveContext.begin(survey, settings)
    prepare_wave(store, wave)
    return store, wave


def test_rounds_are_planned_as_held_rows_and_invite_nobody_twice(project) -> None:
    _rounds_project(project, "    per_segment: 20\n    rounds: {size: 40, every: 2d}\n")
    store, wave = _planned(project)
    try:
        rows = _rows(store, survey_id=ROUNDS_SURVEY)
    finally:
        store.dispose()
    keys = Counter(row.contact_key for row in rows)
    assert rows and max(keys.values()) == 1  # every eligible person once, in one round
    by_due: Counter[tuple[str, datetime | None, str | None]] = Counter()
    for row in rows:
        due = None if row.not_before is None else row.not_before.replace(tzinfo=UTC)
        by_due[(row.segment, due, row.held)] += 1
    for segment in ("enterprise", "growth", "smb"):
        dues = sorted(
            ((due, held, n) for (seg, due, held), n in by_due.items() if seg == segment),
            key=lambda item: (item[0] is not None, item[0] or NOW),
        )
        assert dues[0][:2] == (None, None) and dues[0][2] == 40  # round 1: due at once
        for k, (due, held, count) in enumerate(dues[1:], start=2):
            assert (due, held) == (wave.now + timedelta(days=2 * (k - 1)), ROUND_HELD)
            assert 0 < count <= 40
        assert sum(n for _, _, n in dues) == sum(1 for r in rows if r.segment == segment)


def _claim_due(store: Store, gate: QuotaGate, segment: str, now: datetime, size: int) -> int:
    """The contract's claim (ISSUE 22) for one segment, as the wave will do it once the gates
    are wired: ask the gate; skip → the due rows are skipped with the reason; send → the
    next `size` due rows are sent. Returns how many were sent."""
    due = (Send.not_before.is_(None)) | (Send.not_before <= now)
    where = (Send.survey_id == ROUNDS_SURVEY, Send.segment == segment, Send.status == "pending")
    decision = gate.for_segment(segment, now)
    with store.connect(write=True) as conn:
        if isinstance(decision, Skip):
            conn.execute(
                update(Send).where(*where, due).values(status="skipped", error=decision.reason)
            )
            return 0
        ids = conn.scalars(
            select(Send.id).where(*where, due).order_by(Send.batch, Send.id).limit(size)
        ).all()
        conn.execute(
            update(Send).where(Send.id.in_(ids)).values(status="sent", sent_at=now, held=None)
        )
    return len(ids)


def test_a_quota_reached_while_a_round_is_in_flight_overshoots_by_at_most_that_round(
    project,
) -> None:
    size = 40
    _rounds_project(project, f"    per_segment: 20\n    rounds: {{size: {size}, every: 2d}}\n")
    store, wave = _planned(project)
    try:
        gate = quota_gate(store, wave.survey, wave.wave_id)
        assert gate is not None
        segment = "smb"
        # Round 1: 40 sent in batches of 10; 15 people answer.
        now = wave.now
        while _claim_due(store, gate, segment, now, 10):
            now += timedelta(seconds=1)
        sent = _rows(store, survey_id=ROUNDS_SURVEY, segment=segment, status="sent")
        assert len(sent) == size
        for row in sent[:15]:
            _answer(store, row, 9)
        # Round 2 comes due; after its first batch, answers arrive that meet the quota.
        now = wave.now + timedelta(days=2)
        assert _claim_due(store, gate, segment, now, 10) == 10
        for row in sent[15:20]:
            _answer(store, row, 4)
        reached = len(_rows(store, survey_id=ROUNDS_SURVEY, segment=segment, status="sent"))
        # The rest of round 2, and round 3 when it comes due: skipped, not sent.
        for later in (now + timedelta(seconds=1), wave.now + timedelta(days=4, hours=1)):
            assert _claim_due(store, gate, segment, later, 10) == 0
        with store.connect() as conn:
            counts = dict(
                conn.execute(
                    select(Send.status, func.count())
                    .where(Send.survey_id == ROUNDS_SURVEY, Send.segment == segment)
                    .group_by(Send.status)
                ).all()
            )
            errors = set(
                conn.scalars(
                    select(Send.error).where(Send.status == "skipped", Send.segment == segment)
                )
            )
        sent_total = counts["sent"]
        # Invited once the quota was met or while the round that met it was out: ≤ one round.
        assert sent_total == reached == size + 10 <= 2 * size
        assert errors == {QUOTA_MET} and counts["skipped"] >= size - 10
        # Other segments were not touched by smb's quota.
        assert _claim_due(store, gate, "enterprise", wave.now, 10) == 10
    finally:
        store.dispose()


# -- what plan says --------------------------------------------------------------------


def test_plan_expects_answers_and_margin_from_the_past_response_rate() -> None:
    from cxops.store.quotas import SegmentHistory
    from cxops.wave.quota_plan import ASSUMED_RESPONSE_RATE, segment_expectation

    survey = find_survey_model({"nps_margin": 15, "rounds": {"size": 150, "every": "3d"}})
    quota = survey.audience.quota
    assert quota is not None
    # 400 invited before, 100 answered (25%), half promoters, a fifth detractors.
    past = SegmentHistory(400, Counter({10: 50, 8: 30, 2: 20}))
    seen = segment_expectation(survey, quota, "smb", 1000, past)
    assert (seen.response_rate, seen.rate_from, seen.expected_answers) == (0.25, "past waves", 250)
    # 250 answers spread 50/30/20: the adjusted-Wald margin of 125/75/50 of 250.
    assert seen.expected_precision == pytest.approx(nps_margin({10: 125, 8: 75, 2: 50}))
    # k rounds bring 150k x 25% answers; the margin reaches ±15 at 3 rounds (112 answers).
    assert (seen.rounds, seen.rounds_needed) == (7, 3)
    assert nps_margin({10: 56, 8: 34, 2: 22}) <= 15 < nps_margin({10: 38, 8: 22, 2: 15})
    first = segment_expectation(survey, quota, "growth", 1000, None)
    assert (first.response_rate, first.rate_from) == (ASSUMED_RESPONSE_RATE, "assumed")
    assert first.expected_answers == 200
    # The widest spread: half promoters, half detractors.
    assert first.expected_precision == pytest.approx(nps_margin({10: 100, 0: 100}))


def find_survey_model(quota: dict[str, object]):
    from cxops.spec.models import Survey

    return Survey.model_validate(
        {
            "id": "s",
            "name": "S",
            "kind": "nps",
            "audience": {
                "source": {"csv": "c.csv", "key": "id"},
                "sample": {"seed": 1},
                "quota": quota,
            },
            "questions": [{"id": "score", "type": "nps", "text": "How likely?"}],
            "invitation": {"template": "nps_invite", "from": "r@acme.example"},
        }
    )


def test_plan_shows_the_quota_per_segment_with_its_stated_assumption(project) -> None:
    _rounds_project(project, "    per_segment: 20\n    rounds: {size: 40, every: 2d}\n")
    data = project.run(["plan", ROUNDS_SURVEY, "--json"]).json
    quota = data["quota"]
    assert quota["target"] == "answers" and quota["rounds"] == {"size": 40, "every": "2d"}
    assert "20% is assumed" in quota["assumption"]
    smb = quota["segments"]["smb"]
    assert smb["rate_from"] == "assumed" and smb["quota"] == 20
    assert smb["invited"] == data["by_segment"]["smb"]["sampled"]
    assert smb["expected_answers"] == round(smb["invited"] * 0.2)
    assert smb["rounds_needed"] == 3  # 40 x 20% = 8 answers a round
    human = project.run(["plan", ROUNDS_SURVEY]).stdout
    assert "quota (answers), rounds of 40 every 2d" in human and "3 of" in human
    assert "20% is assumed" in human


def test_rounds_go_out_through_send_due_until_each_segment_meets_its_quota(project) -> None:
    """The whole chain: the wave's run sends round 1, `send_due` sends each later round
    when it comes due, and the quota gate (from the registry) skips a segment once its
    answers meet the quota, while the others go on."""
    from cxops.testing.waves import send_all
    from cxops.wave.due import send_due

    _rounds_project(project, "    per_segment: 10\n    rounds: {size: 15, every: 2d}\n")
    store, wave = _planned(project)

    def sent_by_segment() -> Counter[str]:
        return Counter(row.segment for row in _rows(store, survey_id=ROUNDS_SURVEY, status="sent"))

    try:
        assert send_all(store, wave) == 45  # round 1: 15 of each of the three segments
        for row in _rows(store, survey_id=ROUNDS_SURVEY, segment="smb", status="sent")[:10]:
            _answer(store, row, 9)  # smb meets its quota of 10 answers
        later = project.settings(now=NOW + timedelta(days=2, minutes=1))
        summary = send_due(
            store, later, {ROUNDS_SURVEY: wave.survey}, lambda step: send_all(store, step)
        )
        assert sum(step.sent_now for step in summary.steps) == 30  # round 2 of the two short
        assert sent_by_segment() == Counter({"enterprise": 30, "growth": 30, "smb": 15})
        skipped = _rows(store, survey_id=ROUNDS_SURVEY, segment="smb", status="skipped")
        assert skipped and {row.error for row in skipped} == {QUOTA_MET}
    finally:
        store.dispose()
