"""Wave ids and how a wave is shown to people."""

from __future__ import annotations

from datetime import UTC, datetime


def test_a_wave_is_shown_with_its_schedule_slot_and_when_it_went_out() -> None:
    """An NPS wave sent on Dec 7 is labelled by the cron's last fire, 7 Oct."""
    from cxops.wave_labels import wave_label

    sent = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert wave_label("2026-10-07T0900", sent, "Europe/Berlin") == (
        "wave 2026-10-07T0900 (scheduled 7 Oct 2026 09:00, sent 7 Dec 2026)"
    )
    assert wave_label("2026-10-07", None) == "wave 2026-10-07 (scheduled 7 Oct 2026, not sent yet)"
    assert wave_label("spring-pilot", sent) == "wave spring-pilot (sent 7 Dec 2026)"
    # the send date is the survey's local date
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert wave_label("2026-10-07T0900", late, "Asia/Tokyo").endswith("sent 8 Dec 2026)")
