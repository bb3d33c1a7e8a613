"""The `smtp` channel: one SMTP connection per batch, one transaction per recipient.

`CXOPS_SMTP_URL`: `smtp://user:pass@host:port` (STARTTLS when offered),
`smtp+starttls://…` (STARTTLS required), `smtps://…` (TLS from the start); login when
the URL has credentials. Query options: `cafile=PATH` (trust this CA, e.g. a test
certificate), `timeout=SECONDS`.

Outcomes: a refused recipient or message (5xx) -> failed with the server's reply;
4xx, or the connection failing before DATA -> retry; the connection failing after
the message was sent, before the server's answer -> in_doubt.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import SecretStr

from cxops.channels import mime
from cxops.channels.base import BatchContext, Delivery, DeliveryStatus, same_outcome
from cxops.errors import ChannelError
from cxops.messages.types import MessageGroup, OutgoingMessage

_MODES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "ssl"}
_DEFAULT_PORTS = {"plain": 25, "starttls": 587, "ssl": 465}
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class SMTPTarget:
    mode: Literal["plain", "starttls", "ssl"]
    host: str
    port: int
    username: str | None
    password: str | None
    cafile: str | None
    timeout: float

    def __repr__(self) -> str:
        return f"SMTPTarget({self.mode}, {self.host}:{self.port}, user={self.username!r})"


def parse_smtp_url(url: str) -> SMTPTarget:
    """The parts of `CXOPS_SMTP_URL`; ChannelError (without the password) when invalid."""
    parts = urlsplit(url)
    mode = _MODES.get(parts.scheme.lower())
    if mode is None:
        raise ChannelError(
            f"CXOPS_SMTP_URL: unknown scheme {parts.scheme!r}; expected smtp, smtp+starttls or smtps"
        )
    try:
        port = parts.port or _DEFAULT_PORTS[mode]
    except ValueError:
        raise ChannelError("CXOPS_SMTP_URL: the port is not a number") from None
    if not parts.hostname:
        raise ChannelError("CXOPS_SMTP_URL: no host")
    query = parse_qs(parts.query)
    try:
        timeout = float(query.get("timeout", ["30"])[0])
    except ValueError:
        raise ChannelError("CXOPS_SMTP_URL: timeout must be a number of seconds") from None
    return SMTPTarget(
        mode=mode,  # type: ignore[arg-type]
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        cafile=query.get("cafile", [None])[0],
        timeout=timeout,
    )


class _ConnectionLost(Exception):
    def __init__(self, delivery: Delivery):
        self.delivery = delivery


class SMTPChannel:
    """Sends each batch over one SMTP connection."""

    name = "smtp"

    def __init__(
        self,
        url: SecretStr | str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        raw = url.get_secret_value() if isinstance(url, SecretStr) else url
        self.target = parse_smtp_url(raw)
        self._ssl_context = ssl_context
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"SMTPChannel({self.target!r})"

    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        messages = [message for group in groups for message in group.expand()]
        if not messages:
            return []
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            error = f"cannot open an SMTP session with {self.target.host}:{self.target.port}: "
            return same_outcome((m.send_id for m in messages), "retry", error=error + _reason(exc))
        deliveries: list[Delivery] = []
        date = self._clock()
        try:
            for index, message in enumerate(messages):
                try:
                    deliveries.append(_deliver(connection, message, context, date))
                except _ConnectionLost as lost:
                    deliveries.append(lost.delivery)
                    rest = (m.send_id for m in messages[index + 1 :])
                    error = f"not sent: the connection was lost ({lost.delivery.error})"
                    deliveries += same_outcome(rest, "retry", error=error)
                    break
        finally:
            _quit(connection)
        return deliveries

    def close(self) -> None:
        """Nothing to release: every batch opens and closes its own connection."""

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=self.target.cafile)
        return self._ssl_context

    def _connect(self) -> smtplib.SMTP:
        target = self.target
        if target.mode == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=target.timeout, context=self._context()
            )
        else:
            connection = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
        try:
            connection.ehlo()
            offers_tls = connection.has_extn("starttls")
            if target.mode == "starttls" and not offers_tls:
                raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
            if target.mode != "ssl" and offers_tls:
                connection.starttls(context=self._context())
                connection.ehlo()
            if target.username:
                connection.login(target.username, target.password or "")
        except BaseException:
            connection.close()
            raise
        return connection


def _deliver(
    connection: smtplib.SMTP, message: OutgoingMessage, context: BatchContext, date: datetime
) -> Delivery:
    send_id = message.send_id
    try:
        rendered = mime.render(
            message,
            date=date,
            extra_headers=mime.cxops_headers(context, send_id),
            linesep="\r\n",
        )
    except ValueError as exc:
        return Delivery(send_id, "failed", error=str(exc))
    try:
        code, reply = connection.mail(rendered.envelope_from)
        if code != 250:
            # The sender (or a missing login) is refused: a configuration problem, not the
            # recipient's, so the message may go again once it is fixed.
            _reset(connection)
            return Delivery(send_id, "retry", error=_reply("MAIL FROM", code, reply))
        code, reply = connection.rcpt(message.to_email)
        if code not in (250, 251):
            _reset(connection)
            return Delivery(send_id, _refusal(code), error=_reply("RCPT TO", code, reply))
        code, reply = connection.docmd("DATA")
        if code != 354:
            _reset(connection)
            return Delivery(send_id, _refusal(code), error=_reply("DATA", code, reply))
    except UnicodeEncodeError:
        _reset(connection)
        return Delivery(send_id, "failed", error="the address needs SMTPUTF8, not supported")
    except (OSError, smtplib.SMTPException) as exc:
        raise _ConnectionLost(Delivery(send_id, "retry", error=_reason(exc))) from None
    try:
        connection.send(_LEADING_DOT.sub(b"..", rendered.data) + b".\r\n")
        code, reply = connection.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        error = f"the message was sent but not confirmed: {_reason(exc)}"
        raise _ConnectionLost(Delivery(send_id, "in_doubt", error=error)) from None
    if code != 250:
        return Delivery(send_id, _refusal(code), error=_reply("message", code, reply))
    return Delivery(send_id, "sent", provider_id=rendered.message_id)


def _refusal(code: int) -> DeliveryStatus:
    """5xx is a permanent refusal; anything else (4xx, odd codes) may work later."""
    return "failed" if 500 <= code < 600 else "retry"


def _reply(step: str, code: int, reply: bytes) -> str:
    return f"{step} refused: {code} {reply.decode('utf-8', 'replace')}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else error
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _reset(connection: smtplib.SMTP) -> None:
    # A broken connection shows up, and is reported, in the next transaction.
    with contextlib.suppress(OSError, smtplib.SMTPException):
        connection.rset()


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()
