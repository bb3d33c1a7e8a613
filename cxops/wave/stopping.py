"""When a wave stops before its end: a channel that keeps failing, or a signal.

A batch whose every message came back `retry` made no progress: the rows went back to
pending. `ChannelBackoff` waits longer after each such batch (`CXOPS_CHANNEL_RETRY_SECONDS`,
doubled each time) and gives up after `CHANNEL_ATTEMPTS` in a row with `ChannelGaveUp`. SIGTERM and SIGINT raise `Stopped`
in the main thread (`stop_on_signals`), so the batch in flight is recorded (in doubt
when it may have left, released when it did not), temporary files are removed and
Prefect's server is shut down. Either way the user gets one line: what happened, how
many were sent, and how to resume (`stopped_line`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from cxops.errors import CxopsError
from cxops.settings import Settings
from cxops.store.db import Store
from cxops.store.ledger import wave_counts
from cxops.wave.ids import WaveContext

#: Batches in a row that may make no progress before the wave gives up.
CHANNEL_ATTEMPTS = 5


class Stopped(KeyboardInterrupt):
    """A signal asked the wave to stop (raised from the signal handler)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class ChannelGaveUp(Exception):
    """The channel refused `attempts` batches in a row; `error` is its last reason."""

    def __init__(self, channel: str, attempts: int, error: str):
        super().__init__(f"the {channel} channel failed {attempts} times in a row ({error})")
        self.channel = channel
        self.attempts = attempts
        self.error = error


class WaveStopped(CxopsError):
    """The wave stopped before its end; the message says how far it got and how to resume."""


class ChannelBackoff:
    """Counts batches in a row without progress; sleeps between them, then gives up."""

    def __init__(
        self, channel: str, *, first: float = 0.5, sleep: Callable[[float], None] = time.sleep
    ):
        self.channel = channel
        self.failures = 0
        self.first = first
        self._sleep = sleep

    @classmethod
    def of(
        cls, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
    ) -> ChannelBackoff:
        """The backoff of a wave sent with `settings`: its channel, and the first wait
        `CXOPS_CHANNEL_RETRY_SECONDS`."""
        return cls(settings.channel, first=settings.channel_retry_seconds, sleep=sleep)

    def after(self, progressed: bool, error: str | None) -> None:
        """Call after each batch: resets on progress, else waits or raises `ChannelGaveUp`."""
        if progressed:
            self.failures = 0
            return
        self.failures += 1
        if self.failures >= CHANNEL_ATTEMPTS:
            raise ChannelGaveUp(self.channel, self.failures, error or "no reason given")
        self._sleep(self.first * 2 ** (self.failures - 1))


#: The signal that asked the running wave to stop, if one did (see `stop_signal`).
_received: list[str] = []


def stop_signal() -> str | None:
    """The name of the signal that asked the wave to stop, or None.

    Whatever the exception that then reaches the flow (Prefect may turn the signal into
    one of its own while it starts a task run), the wave stopped because of it.
    """
    return _received[0] if _received else None


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise `Stopped` (once; later ones are ignored while it unwinds)."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if _received:
            return  # already stopping: let the cleanup finish
        _received.append(signal.Signals(signum).name)
        raise Stopped(_received[0])

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stopped_line(store: Store, wave: WaveContext, what: str) -> str:
    """`what` happened: how many of the wave were sent, what is left, how to resume."""
    counts = wave_counts(store, wave.survey_id, wave.wave_id, wave.step)
    total = counts["total"]
    left = [f"{counts['pending']} pending"]
    in_doubt = counts["in_doubt"] + counts["sending"]  # ours: this run is ending
    if in_doubt:
        left.append(f"{in_doubt} in doubt (the batch in flight)")
    if wave.step:
        resume = f"cxops remind {wave.survey_id}"
        sent = f"{counts['sent']} of {total} of reminder {wave.step} of wave {wave.wave_id} sent"
    else:
        resume = f"cxops run {wave.survey_id} --wave {wave.wave_id}"
        sent = f"{counts['sent']} of {total} sent"
    hint = f"run `{resume}` to resume"
    if in_doubt:
        hint += f" (`{resume} --resend-in-doubt` also sends the ones in doubt again)"
    return f"{what}: {sent}, {', '.join(left)}; {hint}"


@contextmanager
def noting_signals() -> Iterator[None]:
    """Inside a flow run: remember SIGTERM/SIGINT, then let the handler in force act.

    A flow run swaps in Prefect's own SIGTERM handler, and the exception it raises may
    reach us as another one (`ValueError: Task run is not set` when it lands while a task
    run starts); noted here, `stop_signal` still says the wave was stopped by it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def chained(previous: Any) -> Any:
        def handler(signum: int, frame: FrameType | None) -> Any:
            # The handler in force acts first: `stop_on_signals`' own one ignores a signal
            # already noted, so noting it before would swallow it.
            try:
                if callable(previous):
                    return previous(signum, frame)
                if previous == signal.SIG_DFL:
                    signal.signal(signum, signal.SIG_DFL)
                    os.kill(os.getpid(), signum)
                return None
            finally:
                if not _received:
                    _received.append(signal.Signals(signum).name)

        return handler

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig, old in previous.items():
        signal.signal(sig, chained(old))
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
