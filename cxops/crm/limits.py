"""A CRM's request limits: at most N requests in any rolling window, and a cap per run.

HubSpot counts a private app's requests per rolling 10 seconds and per day
(docs/crm.md lists the published figures). `RequestBudget.take()` is asked before each
request: it waits (through the injected `sleep`) until the window has room, and
refuses once the run's cap is spent. The clock and the sleeper are parameters, so
tests run without waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from cxops.errors import CrmError


class RequestBudget:
    """`per_window` requests in any `window` seconds; `total` requests in all."""

    def __init__(
        self,
        per_window: int,
        total: int,
        *,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_window = per_window
        self.total = total
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.used = 0
        self._recent: deque[float] = deque()

    def take(self) -> None:
        """Wait until one more request fits the window; count it."""
        if self.used >= self.total:
            raise CrmError(
                f"this push made {self.used} requests, the daily limit set "
                "(crm.hubspot.daily_limit): the rest is written by the next push"
            )
        now = self.clock()
        while self._recent and self._recent[0] <= now - self.window:
            self._recent.popleft()
        if len(self._recent) >= self.per_window:
            self.sleep(self._recent[0] + self.window - now)
            now = self.clock()
            while self._recent and self._recent[0] <= now - self.window:
                self._recent.popleft()
        self._recent.append(now)
        self.used += 1
