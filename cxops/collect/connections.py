"""Connections as `cxops serve` accepts them: what uvicorn leaves unbounded.

- A request head (request line and headers) must arrive whole within `HEAD_READ_TIMEOUT`
  of the connection or of the end of the previous request: h11 has no header timeout
  and uvicorn's keep-alive timer stops at a request's first byte, so a client sending
  one header line every few seconds held its connection (and a file descriptor) for
  as long as it liked. After the deadline the client gets 408 and the connection is
  closed, as `cxops.collect.app.BodyTimeout` does for a stalled body.
- A full descriptor table is logged once, then summarised: asyncio's accept loop calls
  the event loop's exception handler with a traceback for every failed `accept()`
  (up to the listen backlog per turn), which made 100 MB of log in 90 s.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("cxops.collect")

#: Seconds a client has to send a whole request head.
HEAD_READ_TIMEOUT = 15.0
#: While accepting fails for want of descriptors, a summary line this often.
EXHAUSTED_SUMMARY_SECONDS = 60.0

_NO_RESOURCE = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_BODY = b"Request head not received in time\n"
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head (`http=` of uvicorn)."""

    head_timeout: float = HEAD_READ_TIMEOUT
    _head_timer: asyncio.TimerHandle | None = None
    _head_started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # the next request on a kept-alive connection begins
        self._head_started = True
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel_head_timer()  # the head is complete (or refused with 400)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_started = False
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._head_started:  # a connection that never sent a byte is closed silently
            self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()


class DescriptorExhaustion:
    """An event loop exception handler: a failed `accept()` for want of descriptors is
    logged once, then as one summary per `EXHAUSTED_SUMMARY_SECONDS` while it lasts,
    and once more when connections are accepted again; anything else goes to asyncio's
    default handler."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.open_files_limit = _open_files_limit()  # now: once the table is full, no import
        self.refused = 0
        self.refused_in_all = 0
        self.summary: asyncio.TimerHandle | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not (isinstance(exc, OSError) and exc.errno in _NO_RESOURCE):
            loop.default_exception_handler(context)
            return
        self.refused += 1
        self.refused_in_all += 1
        if self.summary is None:
            log.error(
                "cannot accept connections: %s (open files limit %s); they wait in the "
                "listen queue, and connections without a whole request head within "
                "%g s are closed",
                exc.strerror or exc,
                self.open_files_limit,
                HEAD_READ_TIMEOUT,
            )
            self.refused = 0
            self.summary = loop.call_later(EXHAUSTED_SUMMARY_SECONDS, self._summarise)

    def _summarise(self) -> None:
        if self.refused:
            log.error(
                "still cannot accept every connection: %d accept() calls failed in the last %g s",
                self.refused,
                EXHAUSTED_SUMMARY_SECONDS,
            )
            self.refused = 0
            self.summary = self.loop.call_later(EXHAUSTED_SUMMARY_SECONDS, self._summarise)
            return
        log.warning(
            "accepting connections again (%d accept() calls had failed)", self.refused_in_all
        )
        self.refused_in_all = 0
        self.summary = None


def collector_event_loop() -> asyncio.AbstractEventLoop:
    """The collector's event loop (uvicorn's `loop=`): asyncio's, with `DescriptorExhaustion`."""
    loop = asyncio.SelectorEventLoop()
    loop.set_exception_handler(DescriptorExhaustion(loop))
    return loop


def _open_files_limit() -> str:
    try:
        import resource
    except ImportError:  # not a Unix
        return "unknown"
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return "unlimited" if soft == resource.RLIM_INFINITY else str(soft)
