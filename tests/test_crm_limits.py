"""The CRM's request budget (a rolling window and a cap per run) and `Retry-After`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxops.crm.hubspot import retry_after
from cxops.crm.limits import RequestBudget
from cxops.errors import CrmError
from cxops.testing.fake_time import FakeTime


@pytest.mark.parametrize(("per_window", "spacing"), [(100, 0.0), (190, 0.01), (7, 0.9)])
def test_no_rolling_window_holds_more_than_the_limit(per_window, spacing):
    time = FakeTime()
    budget = RequestBudget(per_window, 10_000, clock=time.clock, sleep=time.sleep)
    starts = []
    for _ in range(5 * per_window + 3):
        budget.take()
        starts.append(time.now)
        time.now += spacing  # the request itself takes a while
    for index, start in enumerate(starts):
        in_window = [s for s in starts[index:] if s < start + 10.0]
        assert len(in_window) <= per_window
    # it waited no longer than needed: the first request after a full window starts
    # exactly when the oldest of that window leaves it
    assert starts[per_window] == pytest.approx(
        max(starts[0] + 10.0, starts[per_window - 1] + spacing)
    )


def test_the_cap_per_run_stops_before_the_request_over_it():
    time = FakeTime()
    budget = RequestBudget(100, 3, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        budget.take()
    with pytest.raises(CrmError, match="daily limit set"):
        budget.take()
    assert budget.used == 3 and time.sleeps == []


def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 12, 7, 19, 0, 0, tzinfo=UTC)
    assert retry_after("7") == 7.0
    assert retry_after(" 2.5 ") == 2.5
    assert retry_after("Mon, 07 Dec 2026 19:00:30 GMT", now) == 30.0
    assert retry_after("Mon, 07 Dec 2026 18:00:00 GMT", now) == 0.0
    assert retry_after(None) is None and retry_after("soon") is None
