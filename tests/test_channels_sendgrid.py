"""The SendGrid channel, through the real client, against the local SendGrid server."""

from __future__ import annotations

import logging
import time

import pytest

from cxops.channels import make_channel
from cxops.channels.base import BatchContext
from cxops.channels.sendgrid import MAX_SUBSTITUTION_BYTES, SendGridChannel, substitution_bytes
from cxops.errors import ChannelError
from cxops.messages.types import MessageGroup, Recipient
from cxops.testing.sendgrid_server import Fault, running_sendgrid_server
from cxops.testing.tls import self_signed_certificate, server_context

KEY = "SG.secret-key-0123456789"
CONTEXT = BatchContext("nps-q4", "2026-11-23", 7)


def _recipient(index: int) -> Recipient:
    name = ["Zoë Ünal", 'Dr. "Ace" O\'Brien', None, "<script>alert(1)</script>"][index % 4]
    unsubscribe = f"https://cx.example/u/{index}?t=tok{index}"
    return Recipient(
        send_id=f"send-{index}",
        email=f"person{index}@example.com",
        name=name,
        substitutions={"-name-": name or "there", "-unsub-": unsubscribe, "-n-": str(index)},
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        custom_args={"survey": "nps-q4", "wave": "2026-11-23", "send_id": f"send-{index}"},
    )


def _group(count: int, start: int = 0) -> MessageGroup:
    return MessageGroup(
        from_header="Acme Research <research@acme.example>",
        reply_to=None,
        subject="Ihre Meinung, -name-? (#-n-)",
        html="<p>Hallo -name-</p><a href='-unsub-'>abmelden</a> ☃",
        text="Hallo -name-,\nFrom us: -unsub-\n",
        recipients=[_recipient(i) for i in range(start, start + count)],
    )


def _channel(url: str, **options: float) -> SendGridChannel:
    sleeps: list[float] = []
    options.setdefault("max_attempts", 3)
    options.setdefault("timeout", 5.0)
    channel = SendGridChannel(KEY, url, sleep=sleeps.append, **options)
    channel.sleeps = sleeps
    return channel


def test_every_recipient_gets_exactly_their_expanded_message() -> None:
    groups = [_group(30), _group(5, start=100)]
    groups[1].subject = "Second group for -name-"
    with running_sendgrid_server(api_key=KEY) as server:
        channel = _channel(server.url)
        deliveries = channel.send(groups, CONTEXT)
        received = {m.to_email: m for m in server.messages()}
    expected = [m for group in groups for m in group.expand()]
    assert len(received) == len(expected) == 35
    for want in expected:
        got = received[want.to_email]
        assert (got.subject, got.html, got.text) == (want.subject, want.html, want.text)
        assert got.headers == want.headers
        assert got.custom_args == want.custom_args
        assert got.to_name == want.to_name
        assert (got.from_name, got.from_email) == ("Acme Research", "research@acme.example")
    assert {d.send_id for d in deliveries} == {m.send_id for m in expected}
    assert {d.status for d in deliveries} == {"sent"}
    ids = {m.message_id for m in received.values()}
    assert {d.provider_id for d in deliveries} == ids and len(ids) == 2


def test_2500_recipients_are_packed_into_three_requests() -> None:
    with running_sendgrid_server(api_key=KEY) as server:
        deliveries = _channel(server.url).send([_group(2500)], CONTEXT)
        sizes = [len(r.body["personalizations"]) for r in server.accepted]
        content_types = [c["type"] for c in server.accepted[0].body["content"]]
    assert sizes == [1000, 1000, 500]
    assert content_types == ["text/plain", "text/html"]
    assert len(deliveries) == 2500 and {d.status for d in deliveries} == {"sent"}


def test_429_waits_for_retry_after_then_succeeds() -> None:
    with running_sendgrid_server(api_key=KEY, faults=[Fault.throttle(retry_after=7)]) as server:
        channel = _channel(server.url, base_delay=0.5)
        deliveries = channel.send([_group(3)], CONTEXT)
        assert len(server.requests) == 2 and len(server.accepted) == 1
    assert channel.sleeps == [7.0]
    assert {d.status for d in deliveries} == {"sent"}


def test_500_backs_off_then_succeeds() -> None:
    with running_sendgrid_server(api_key=KEY, faults=[Fault.server_error(times=2)]) as server:
        channel = _channel(server.url, base_delay=0.5)
        deliveries = channel.send([_group(3)], CONTEXT)
        assert len(server.accepted) == 1
    assert channel.sleeps == [0.5, 1.0]
    assert {d.status for d in deliveries} == {"sent"}


def test_persistent_500_means_retry() -> None:
    with running_sendgrid_server(api_key=KEY, faults=[Fault.server_error(times=10)]) as server:
        channel = _channel(server.url)
        deliveries = channel.send([_group(3)], CONTEXT)
        assert len(server.requests) == 3 and not server.accepted
    assert {d.status for d in deliveries} == {"retry"}
    assert "HTTP 500" in (deliveries[0].error or "")


def test_400_fails_the_request_with_sendgrids_message() -> None:
    fault = Fault.bad_request("The from email does not contain a valid address.", "from.email")
    with running_sendgrid_server(api_key=KEY, faults=[fault]) as server:
        deliveries = _channel(server.url).send([_group(1200)], CONTEXT)
        assert len(server.accepted) == 1  # the second request of 200 went through
    by_status: dict[str, list[str | None]] = {}
    for delivery in deliveries:
        by_status.setdefault(delivery.status, []).append(delivery.error)
    assert len(by_status["failed"]) == 1000 and len(by_status["sent"]) == 200
    assert by_status["failed"][0] == "HTTP 400: The from email does not contain a valid address."


def test_a_slow_answer_beyond_the_timeout_is_in_doubt_and_not_retried() -> None:
    with running_sendgrid_server(api_key=KEY, faults=[Fault.slow(1.5, times=2)]) as server:
        channel = _channel(server.url, timeout=0.3, max_attempts=3)
        deliveries = channel.send([_group(2)], CONTEXT)
        time.sleep(1.6)  # let the slow request finish arriving
        # one attempt only: the request may have been accepted, a retry could invite twice
        assert len(server.requests) == 1
    assert {d.status for d in deliveries} == {"in_doubt"}
    assert "no answer" in (deliveries[0].error or "")


def test_connection_refused_means_retry() -> None:
    with running_sendgrid_server(api_key=KEY) as server:
        url = server.url
    deliveries = _channel(url, max_attempts=2).send([_group(2)], CONTEXT)
    assert {d.status for d in deliveries} == {"retry"}
    assert "cannot reach SendGrid" in (deliveries[0].error or "")


def test_a_connect_timeout_is_retried_with_backoff() -> None:
    """The request never left, so it cannot have been accepted: retried, then `retry`."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    host, port = listener.getsockname()
    # Fill the accept queue (nobody accepts): then a connection's SYN gets no answer,
    # and connecting times out, as the channel's will.
    queued: list[socket.socket] = []
    try:
        for _ in range(16):
            try:
                queued.append(socket.create_connection((host, port), timeout=0.3))
            except TimeoutError:
                break
        else:
            raise AssertionError("the accept queue never filled: connects did not time out")
        channel = _channel(f"http://{host}:{port}", timeout=0.3, max_attempts=3, base_delay=2.0)
        deliveries = channel.send([_group(2)], CONTEXT)
    finally:
        for connection in queued:
            connection.close()
        listener.close()
    assert {d.status for d in deliveries} == {"retry"}
    assert "cannot reach SendGrid" in (deliveries[0].error or "")
    assert channel.sleeps == [2.0, 4.0]


def test_an_untrusted_certificate_is_retry_and_nothing_is_sent(tmp_path) -> None:
    """A TLS failure (here: a certificate nobody trusts, as behind an intercepting proxy)
    happens before the request leaves: it cannot have been accepted, so it is retried
    with backoff and ends as `retry`, never `in_doubt`; no request reaches the server."""
    import socket
    import ssl
    import threading

    context = server_context(self_signed_certificate(tmp_path))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)  # closing a socket does not wake a blocked accept()
    stop = threading.Event()
    handshakes: list[str] = []
    received: list[bytes] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(5)
            try:
                with context.wrap_socket(connection, server_side=True) as tls:
                    received.append(tls.recv(65536))
            except (ssl.SSLError, OSError) as exc:
                handshakes.append(type(exc).__name__)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        channel = _channel(f"https://127.0.0.1:{port}", max_attempts=3, base_delay=0.5)
        deliveries = channel.send([_group(2)], CONTEXT)
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()
    assert {d.status for d in deliveries} == {"retry"}
    error = deliveries[0].error or ""
    assert "cannot reach SendGrid" in error and "CERTIFICATE_VERIFY_FAILED" in error, error
    assert channel.sleeps == [0.5, 1.0]
    assert len(handshakes) == 3 and received == []  # three handshakes refused, no request


def test_a_wrong_key_is_retry_and_stops_the_batch() -> None:
    with running_sendgrid_server(api_key="SG.other") as server:
        deliveries = _channel(server.url).send([_group(1500)], CONTEXT)
        assert len(server.requests) == 0  # refused at the door, the second request not sent
    assert len(deliveries) == 1500 and {d.status for d in deliveries} == {"retry"}
    assert "authorization grant is invalid" in (deliveries[0].error or "")


def test_oversized_substitutions_fail_only_that_recipient() -> None:
    group = _group(3)
    big = group.recipients[1]
    group.recipients[1] = Recipient(
        big.send_id,
        big.email,
        big.name,
        {"-name-": "x" * MAX_SUBSTITUTION_BYTES},
        big.headers,
        big.custom_args,
    )
    with running_sendgrid_server(api_key=KEY) as server:
        deliveries = _channel(server.url).send([group], CONTEXT)
        assert len(server.messages()) == 2
    status = {d.send_id: d.status for d in deliveries}
    assert status == {"send-0": "sent", "send-1": "failed", "send-2": "sent"}


def test_the_api_key_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outcomes = []
    with running_sendgrid_server(api_key=KEY, faults=[Fault.server_error(times=1)]) as server:
        channel = _channel(server.url)
        outcomes += channel.send([_group(2)], CONTEXT)
        outcomes += _channel(server.url + "/nowhere", max_attempts=1).send([_group(1)], CONTEXT)
    with running_sendgrid_server(api_key="SG.other") as server:
        outcomes += _channel(server.url).send([_group(1)], CONTEXT)
    assert any("Authorization" in r.getMessage() for r in caplog.records)  # the client logged
    assert KEY not in caplog.text
    assert all(KEY not in repr(d) for d in outcomes)
    assert KEY not in repr(channel)
    with pytest.raises(ChannelError) as error:
        SendGridChannel(None)
    assert "CXOPS_SENDGRID_API_KEY" in str(error.value)


def test_make_channel_builds_sendgrid_from_settings(empty_project) -> None:
    with running_sendgrid_server(api_key=KEY) as server:
        settings = empty_project.settings(
            channel="sendgrid", sendgrid_api_key=KEY, sendgrid_api_url=server.url
        )
        channel = make_channel(settings)
        assert {d.status for d in channel.send([_group(2)], CONTEXT)} == {"sent"}
        channel.close()
    with pytest.raises(ChannelError, match="CXOPS_SENDGRID_API_KEY"):
        make_channel(empty_project.settings(channel="sendgrid"))


@pytest.mark.parametrize(
    ("substitutions", "size"),
    [
        ({}, 0),
        ({"%a%": "xyz"}, 6),
        ({"%n%": "Zoë", "%c%": "日本"}, 3 + 4 + 3 + 6),
        ({"%e%": "🎉"}, 3 + 4),
    ],
)
def test_substitution_bytes_count_utf8(substitutions: dict[str, str], size: int) -> None:
    assert substitution_bytes(substitutions) == size
