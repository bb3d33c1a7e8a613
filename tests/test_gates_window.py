"""The send window gate (`cxops.gates.window`), asked directly: pure, no store.

Properties (hypothesis, over every IANA zone, windows, days, keys and instants from 1990
to 2040): every hold is later than now, inside the window on an allowed local day, and
answered SEND when asked again at its time; between now and the hold the answer is the
same hold; a SEND is inside the window; one instant has one answer, whatever zone it is
written in. Examples: the days clocks change in Berlin and New York, the spread of a
thousand contacts over the window, zones that are missing or unknown.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cxops.gates.base import SEND, Candidate, Gates, Hold, Moment
from cxops.gates.window import REASON, WindowGate, day_window, decide, window_gate
from cxops.spec.models import Survey
from cxops.spec.send_window import DAY_NAMES, SendWindow, is_zone_name

REPO_ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = [ZoneInfo(name) for name in sorted(available_timezones() - {"localtime"})]
#: Monday 23 November 2026, 06:00 in Berlin.
MONDAY_EARLY = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def window(
    opens: str = "09:00", closes: str = "11:00", days: Any = "all", **more: Any
) -> SendWindow:
    return SendWindow.model_validate({"from": opens, "to": closes, "days": days, **more})


def candidate(key: str = "c-1", step: int = 0, **contact: Any) -> Candidate:
    return Candidate(key, f"{key}@example.com", "smb", step, contact)


def local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def inside(sw: SendWindow, instant: datetime, zone: ZoneInfo) -> bool:
    wall = local(instant, zone)
    return wall.weekday() in sw.weekdays and sw.from_ <= wall.time() < sw.to


# -- properties ------------------------------------------------------------------------


@st.composite
def windows(draw: st.DrawFn) -> SendWindow:
    opens = draw(st.integers(0, 24 * 60 - 2))
    closes = draw(st.integers(opens + 1, 24 * 60 - 1))
    days = draw(
        st.one_of(
            st.sampled_from(["all", "weekdays"]),
            st.lists(st.sampled_from(DAY_NAMES), min_size=1, max_size=7, unique=True),
        )
    )
    return window(
        f"{opens // 60:02d}:{opens % 60:02d}", f"{closes // 60:02d}:{closes % 60:02d}", days
    )


instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
keys = st.text(min_size=1, max_size=24)


@given(sw=windows(), zone=st.sampled_from(ZONES), key=keys, now=instants, share=st.floats(0, 1))
@example(  # the hour Berlin skips: 02:30 does not exist on 29 March 2026
    sw=window("02:30", "03:30"),
    zone=BERLIN,
    key="c-1",
    now=datetime(2026, 3, 28, 23, tzinfo=UTC),
    share=0.5,
)
@example(  # New York's repeated hour: 01:10 EST comes after 01:40 EDT
    sw=window("01:30", "03:00"),
    zone=NEW_YORK,
    key="c-2",
    now=datetime(2026, 11, 1, 6, 10, tzinfo=UTC),
    share=0.5,
)
def test_a_hold_is_inside_the_window_and_sends_when_asked_again(
    sw: SendWindow, zone: ZoneInfo, key: str, now: datetime, share: float
) -> None:
    decision = decide(sw, zone, key, now)
    if decision == SEND:
        assert inside(sw, now, zone)
        return
    assert isinstance(decision, Hold)
    assert decision.reason == REASON
    assert decision.until > now
    assert decision.until.utcoffset() == timedelta(0)
    assert inside(sw, decision.until, zone)
    assert decide(sw, zone, key, decision.until) == SEND
    between = now + (decision.until - now) * share
    if between < decision.until:
        assert decide(sw, zone, key, between) == decision


@given(
    sw=windows(), zone=st.sampled_from(ZONES), key=keys, now=instants, other=st.sampled_from(ZONES)
)
def test_one_instant_has_one_answer(
    sw: SendWindow, zone: ZoneInfo, key: str, now: datetime, other: ZoneInfo
) -> None:
    answer = decide(sw, zone, key, now)
    assert decide(sw, zone, key, now.astimezone(other)) == answer
    assert decide(sw, zone, key, now) == answer


@given(sw=windows(), zone=st.sampled_from(ZONES), day=st.dates(date(1990, 1, 1), date(2040, 1, 1)))
def test_a_days_window_is_every_instant_whose_wall_time_is_in_it(
    sw: SendWindow, zone: ZoneInfo, day: date
) -> None:
    intervals = day_window(zone, day, sw.from_, sw.to)
    for start, end in intervals:
        assert start < end
        for instant in (start, end - timedelta(seconds=1)):
            wall = local(instant, zone)
            assert wall.date() == day and sw.from_ <= wall.time() < sw.to
        for instant in (start - timedelta(seconds=1), end):
            wall = local(instant, zone)
            assert not (wall.date() == day and sw.from_ <= wall.time() < sw.to)
    assert list(intervals) == sorted(intervals)


# -- the days clocks change ------------------------------------------------------------


def test_a_window_time_the_clocks_skip_starts_when_they_reach_it() -> None:
    # 29 March 2026: Berlin goes from 02:00 CET to 03:00 CEST; 02:30 does not exist.
    sw = window("02:30", "04:00")
    assert day_window(BERLIN, date(2026, 3, 29), sw.from_, sw.to) == (
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 3, 29, 2, 0, tzinfo=UTC)),
    )
    before = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    holds = [decide(sw, BERLIN, f"c-{n}", before) for n in range(200)]
    assert all(isinstance(h, Hold) for h in holds)
    untils = [h.until for h in holds if isinstance(h, Hold)]
    assert min(untils) >= datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert max(untils) < datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 04:00 CEST


def test_a_window_wholly_in_the_skipped_hour_waits_for_the_next_day() -> None:
    sw = window("02:05", "02:55")
    assert day_window(BERLIN, date(2026, 3, 29), sw.from_, sw.to) == ()
    decision = decide(sw, BERLIN, "c-1", datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    assert isinstance(decision, Hold)
    assert local(decision.until, BERLIN).date() == date(2026, 3, 30)


def test_the_hour_clocks_repeat_is_in_the_window_twice() -> None:
    # 25 October 2026: Berlin's 02:00-03:00 happens in CEST, then again in CET.
    sw = window("02:00", "03:00")
    assert day_window(BERLIN, date(2026, 10, 25), sw.from_, sw.to) == (
        (datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    )
    before = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)
    untils = [decide(sw, BERLIN, f"c-{n}", before) for n in range(400)]
    hours = {h.until.hour for h in untils if isinstance(h, Hold)}
    assert hours == {0, 1}  # spread over both passes, two real hours


def test_a_repeated_hour_before_the_window_opens_is_outside_it() -> None:
    # 1 November 2026, New York: 01:30-02:00 EDT, then 01:00-01:30 EST (outside), then in.
    sw = window("01:30", "03:00")
    assert day_window(NEW_YORK, date(2026, 11, 1), sw.from_, sw.to) == (
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 1, 8, 0, tzinfo=UTC)),
    )
    at_0110_est = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)
    for n in range(50):
        decision = decide(sw, NEW_YORK, f"c-{n}", at_0110_est)
        assert isinstance(decision, Hold)
        assert decision.until >= datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


# -- the spread ------------------------------------------------------------------------


def test_a_thousand_contacts_are_spread_across_the_window() -> None:
    sw = window("09:00", "11:00", "weekdays")
    holds = [decide(sw, BERLIN, f"c-{n:05d}", MONDAY_EARLY) for n in range(1000)]
    untils = [local(h.until, BERLIN) for h in holds if isinstance(h, Hold)]
    assert len(untils) == 1000
    assert all(u.date() == date(2026, 11, 23) for u in untils)
    assert min(untils).time() < time(9, 3) and max(untils).time() > time(10, 57)
    per_minute: dict[tuple[int, int], int] = {}
    for until in untils:
        per_minute[until.hour, until.minute] = per_minute.get((until.hour, until.minute), 0) + 1
    assert len(per_minute) > 100  # of 120 minutes
    assert max(per_minute.values()) <= 25  # 1000 / 120 ≈ 8 a minute
    # Stable: the same key gets the same slot in every wave and every reminder.
    assert decide(sw, BERLIN, "c-00007", MONDAY_EARLY) == holds[7]


def test_inside_the_window_those_whose_slot_passed_send_the_others_wait() -> None:
    sw = window("09:00", "11:00")
    at_ten = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
    decisions = [decide(sw, BERLIN, f"c-{n}", at_ten) for n in range(400)]
    sent = sum(d == SEND for d in decisions)
    assert 140 < sent < 260  # about half the slots are before 10:00
    for d in decisions:
        if isinstance(d, Hold):
            assert d.until.date() == at_ten.date() and d.until > at_ten


def test_weekdays_skip_the_weekend_in_local_time() -> None:
    sw = window("09:00", "11:00", "weekdays")
    # Friday 27 November 2026, 23:30 UTC: already Saturday in Tokyo, still Friday in New York.
    friday_night = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    tokyo = decide(sw, ZoneInfo("Asia/Tokyo"), "c-1", friday_night)
    assert isinstance(tokyo, Hold)
    assert local(tokyo.until, ZoneInfo("Asia/Tokyo")).date() == date(2026, 11, 30)
    ny = decide(sw, NEW_YORK, "c-1", friday_night)
    assert isinstance(ny, Hold) and local(ny.until, NEW_YORK).date() == date(2026, 11, 30)
    only = window("09:00", "11:00", ["wed"])
    wed = decide(only, NEW_YORK, "c-1", friday_night)
    assert isinstance(wed, Hold) and local(wed.until, NEW_YORK).date() == date(2026, 12, 2)


# -- the gate: zones, fallback, bad_timezone ------------------------------------------


def test_each_contact_is_held_to_their_own_zone_for_invitations_and_reminders() -> None:
    gate = WindowGate(window(timezone="contact.timezone"), fallback="UTC")
    for zone in ("Asia/Tokyo", "Europe/Berlin", "America/Los_Angeles"):
        for step, moment in ((0, Moment.PLAN), (0, Moment.CLAIM), (1, Moment.REMIND)):
            decision = gate.for_contact(candidate("c-1", step, timezone=zone), moment, MONDAY_EARLY)
            if isinstance(decision, Hold):
                assert inside(gate.window, decision.until, ZoneInfo(zone))
            else:
                assert inside(gate.window, MONDAY_EARLY, ZoneInfo(zone))
    assert gate.for_segment("smb", MONDAY_EARLY) == SEND
    assert gate.bad_timezone == 0
    assert Gates((gate,)).for_contact(candidate(timezone="Asia/Tokyo"), Moment.PLAN, MONDAY_EARLY)


@pytest.mark.parametrize(
    "contact",
    [
        {},
        {"timezone": None},
        {"timezone": ""},
        {"timezone": "   "},
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": "CEST"},
        {"timezone": "Europe"},
        {"timezone": "../etc/passwd"},
        {"timezone": "/etc/localtime"},
        {"timezone": "localtime"},  # the machine's zone, not an IANA one
        {"timezone": "zone.tab"},
        {"timezone": 42},
    ],
)
def test_a_missing_or_unknown_zone_falls_back_to_the_surveys_and_is_counted(
    contact: dict[str, Any],
) -> None:
    gate = WindowGate(window(timezone="contact.timezone"), fallback="Europe/Berlin")
    decision = gate.for_contact(candidate("c-1", **contact), Moment.PLAN, MONDAY_EARLY)
    assert decision == decide(gate.window, BERLIN, "c-1", MONDAY_EARLY)
    gate.for_contact(candidate("c-1", **contact), Moment.CLAIM, MONDAY_EARLY)
    assert gate.bad_timezone == 1  # each contact once
    gate.for_contact(candidate("c-2", **contact), Moment.PLAN, MONDAY_EARLY)
    gate.for_contact(candidate("c-3", timezone="Asia/Tokyo"), Moment.PLAN, MONDAY_EARLY)
    assert gate.bad_timezone == 2


def test_the_timezone_may_be_an_expression_or_a_zone() -> None:
    sw = window(timezone="contact.tz or 'America/New_York'")
    gate = WindowGate(sw, fallback="UTC")
    assert gate.zone_of(candidate(tz="Asia/Tokyo"), MONDAY_EARLY) == ZoneInfo("Asia/Tokyo")
    assert gate.zone_of(candidate(tz=None), MONDAY_EARLY) == NEW_YORK
    assert gate.zone_of(candidate(), MONDAY_EARLY) == ZoneInfo("UTC")  # undefined: fallback
    assert gate.bad_timezone == 1
    fixed = WindowGate(window(timezone="Asia/Tokyo"), fallback="UTC")
    assert fixed.zone_of(candidate(timezone="Europe/Berlin"), MONDAY_EARLY) == ZoneInfo(
        "Asia/Tokyo"
    )
    default = WindowGate(window(), fallback="Europe/Berlin")
    assert default.zone_of(candidate(timezone="Asia/Tokyo"), MONDAY_EARLY) == BERLIN
    assert fixed.bad_timezone == default.bad_timezone == 0


SURVEY: dict[str, Any] = {
    "id": "nps-global",
    "name": "Global NPS",
    "kind": "nps",
    "schedule": {"cron": "0 6 1 */3 *", "timezone": "Europe/Berlin"},
    "audience": {"source": {"csv": "data/customers.csv", "key": "id"}},
    "questions": [{"id": "score", "type": "nps", "text": "How likely?"}],
    "invitation": {"template": "nps_invite", "from": "r@acme.example"},
}


def test_window_gate_is_built_from_the_survey_with_its_zone_as_the_fallback() -> None:
    assert window_gate(Survey.model_validate(SURVEY)) is None
    invitation = {
        **SURVEY["invitation"],
        "send_window": {"from": "09:00", "to": "11:00", "timezone": "contact.timezone"},
    }
    gate = window_gate(Survey.model_validate({**SURVEY, "invitation": invitation}))
    assert isinstance(gate, WindowGate) and gate.name == "send window"
    assert gate.fallback == "Europe/Berlin"
    assert gate.survey["id"] == "nps-global"
    unscheduled = {key: value for key, value in SURVEY.items() if key != "schedule"}
    plain = window_gate(Survey.model_validate({**unscheduled, "invitation": invitation}))
    assert isinstance(plain, WindowGate) and plain.fallback == "UTC"


def test_the_sample_customers_leave_over_a_day_and_their_bad_zones_are_counted() -> None:
    with (REPO_ROOT / "data" / "customers.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    gate = WindowGate(window("09:00", "11:00", "weekdays", timezone="contact.timezone"), "UTC")
    decisions = [gate.for_contact(candidate(r["id"], **r), Moment.PLAN, MONDAY_EARLY) for r in rows]
    bad = {r["id"] for r in rows if not is_zone_name(r["timezone"])}
    assert gate.bad_timezone == len(bad) > 2  # empty, Mars/Olympus_Mons, CEST
    untils = [d.until for d in decisions if isinstance(d, Hold)]
    assert len({r["timezone"] for r in rows} - {""}) >= 20
    assert max(untils) - min(untils) > timedelta(hours=18)


def test_the_wave_summary_carries_the_count_only_when_there_is_one() -> None:
    from cxops.wave.summary import WaveSummary, summary_markdown

    gate = WindowGate(window(timezone="contact.timezone"), fallback="UTC")
    gate.for_contact(candidate("c-1", timezone="CEST"), Moment.PLAN, MONDAY_EARLY)
    summary = WaveSummary("nps", "2026-11-23", bad_timezone=gate.bad_timezone)
    assert summary.as_dict()["bad_timezone"] == 1
    assert WaveSummary.from_stored(summary.as_dict()).bad_timezone == 1
    assert "1 without a known time zone" in summary_markdown(summary)
    plain = WaveSummary("nps", "2026-11-23")
    assert "bad_timezone" not in plain.as_dict()
    assert "time zone" not in summary_markdown(plain)


def test_a_variant_with_its_own_window_holds_its_rows_by_it() -> None:
    from cxops.gates.window import VariantWindows

    invitation = {
        **SURVEY["invitation"],
        "send_window": {"from": "09:00", "to": "11:00", "timezone": "Europe/Berlin"},
        "variants": [
            {"id": "morning", "subject": "A"},
            {"id": "afternoon", "send_window": {"from": "14:00", "to": "16:00"}},
        ],
    }
    gate = window_gate(Survey.model_validate({**SURVEY, "invitation": invitation}))
    assert isinstance(gate, VariantWindows) and gate.name == "send window"
    # Monday 10:30 in Berlin: inside the invitation's window, before the afternoon's.
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    key = "c-1"
    morning = Candidate(key, "c@example.com", "smb", 0, {}, "morning")
    afternoon = Candidate(key, "c@example.com", "smb", 0, {}, "afternoon")
    no_variant = Candidate(key, "c@example.com", "smb", 0, {})
    expected = decide(window("09:00", "11:00"), BERLIN, key, at)
    assert gate.for_contact(morning, Moment.CLAIM, at) == expected
    assert gate.for_contact(no_variant, Moment.PLAN, at) == expected
    held = gate.for_contact(afternoon, Moment.CLAIM, at)
    assert held == decide(window("14:00", "16:00"), BERLIN, key, at)
    assert isinstance(held, Hold) and local(held.until, BERLIN).hour in (14, 15)
    # Without a window of the invitation's own, only the variant's rows wait.
    bare = {**invitation, "send_window": None}
    only = window_gate(Survey.model_validate({**SURVEY, "invitation": bare}))
    assert isinstance(only, VariantWindows)
    assert only.for_contact(morning, Moment.CLAIM, at) == SEND
    assert isinstance(only.for_contact(afternoon, Moment.CLAIM, at), Hold)
