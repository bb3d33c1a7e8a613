"""A monotonic clock for code that waits (rate limits, backoff): it moves only when
something sleeps, and keeps each sleep, so a test asserts the waits without waiting."""

from __future__ import annotations


class FakeTime:
    """`clock()` and `sleep(seconds)` as `time.monotonic` and `time.sleep` would be."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
