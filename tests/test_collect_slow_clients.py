"""`cxops serve` under slow clients: a request head that does not arrive whole in time is
answered 408 and closed, so a crowd of slow clients cannot hold every descriptor, and a
full descriptor table is one log line, not a traceback per accept."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time

import httpx
import pytest

from cxops.collect.app import create_app
from cxops.collect.connections import HEAD_READ_TIMEOUT, HeadTimeoutProtocol
from cxops.testing.collect import serve_process, serving

#: The collector's descriptor limit here, and how many slow clients hold it: more than it.
OPEN_FILES = 96
SLOW_CLIENTS = 140


def _hold(sockets: list[socket.socket], deadline: float) -> dict[int, bytes]:
    """Send each socket one more header line a second (never finishing its head) until
    the server closes it or `deadline`; what each received, by index."""
    received = {index: b"" for index in range(len(sockets))}
    open_ = dict(enumerate(sockets))
    with selectors.DefaultSelector() as selector:
        for index, sock in open_.items():
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
        next_line = 0.0
        while open_ and time.monotonic() < deadline:
            if time.monotonic() >= next_line:
                for sock in open_.values():
                    with contextlib.suppress(OSError):  # closed: its reply is read below
                        sock.send(b"X-Slow: still-coming\r\n")
                next_line = time.monotonic() + 1
            for key, _ in selector.select(timeout=0.2):
                index = key.data
                try:
                    chunk = open_[index].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                received[index] += chunk
                if not chunk:
                    selector.unregister(open_.pop(index))
    return received


@pytest.mark.slow
def test_slow_heads_are_dropped_and_a_full_descriptor_table_is_logged_once(project):
    """Invariant: with more slow-header clients than descriptors, /healthz is answered
    within a few head timeouts, every slow client gets 408 and is closed, and the
    collector logs the full descriptor table once, without tracebacks."""
    with serve_process(project.root, max_open_files=OPEN_FILES) as served:
        port = int(served.base.rsplit(":", 1)[1])
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(SLOW_CLIENTS)]
        health: dict[str, object] = {}
        try:
            for sock in slow:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")

            def check_health() -> None:
                try:
                    reply = httpx.get(served.base + "/healthz", timeout=HEAD_READ_TIMEOUT * 4)
                    health["status"] = reply.status_code
                except httpx.HTTPError as exc:
                    health["status"] = repr(exc)

            checking = threading.Thread(target=check_health)
            checking.start()
            received = _hold(slow, time.monotonic() + HEAD_READ_TIMEOUT * 8)
            checking.join()
        finally:
            for sock in slow:
                sock.close()
    assert health["status"] == 200
    unanswered = [index for index, reply in received.items() if b" 408 " not in reply[:20]]
    assert unanswered == [], f"{len(unanswered)} slow clients not answered 408"
    output = served.output()
    assert "Traceback" not in output, output[:3000]
    assert output.count("cannot accept connections") == 1, output[-2000:]
    assert len(output) < 20_000


class QuickHeadProtocol(HeadTimeoutProtocol):
    head_timeout = 1.0


def _read_response(sock: socket.socket) -> bytes:
    """One whole response of a kept-alive connection (it has a Content-Length)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_each_request_head_of_a_connection_has_its_deadline(project):
    """The head deadline holds for a new connection and again for the next request on a
    kept-alive one (uvicorn's keep-alive timer stops at its first byte); a connection
    that never sent a byte is closed without a reply; a complete head is not cut."""
    app = create_app(project.settings())
    with serving(app, http=QuickHeadProtocol, timeout_keep_alive=60) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as kept:
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            first = _read_response(kept)
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            second = _read_to_end(kept)
        with socket.create_connection(("127.0.0.1", port), timeout=60) as silent:
            nothing = _read_to_end(silent)
    assert first.startswith(b"HTTP/1.1 200 "), first[:100]
    assert second.startswith(b"HTTP/1.1 408 "), second[:100]
    assert nothing == b""
