"""The `outbox` channel: one mbox file per batch, readable by any mail client.

Files live at `OUTBOX_DIR/SURVEY/WAVE/batch-000012.mbox` (reminder step N:
`reminderN-batch-000012.mbox`). A file is written to a temporary name, fsynced and
renamed, so it is either complete or absent; sending the same batch again replaces
the file (the ledger, not the outbox, decides what was sent).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cxops.channels import mime
from cxops.channels.base import BatchContext, Delivery, safe_path_part, same_outcome
from cxops.messages.types import MessageGroup

log = logging.getLogger(__name__)


class OutboxChannel:
    """Writes each batch as one mbox file under `root`."""

    name = "outbox"

    def __init__(self, root: Path, *, clock: Callable[[], datetime] | None = None):
        self.root = Path(root)
        self._clock = clock or (lambda: datetime.now(UTC))

    def batch_path(self, context: BatchContext) -> Path:
        """Where the mbox of this batch is written."""
        folder = self.root / safe_path_part(context.survey_id) / safe_path_part(context.wave_id)
        return folder / f"{context.file_stem}.mbox"

    def send(self, groups: Sequence[MessageGroup], context: BatchContext) -> list[Delivery]:
        now = self._clock()
        envelope_date = time.asctime(now.astimezone(UTC).timetuple())
        chunks: list[bytes] = []
        written: list[tuple[str, str]] = []
        deliveries: list[Delivery] = []
        for group in groups:
            for message in group.expand():
                try:
                    rendered = mime.render(
                        message,
                        date=now,
                        extra_headers=mime.cxops_headers(context, message.send_id),
                    )
                except ValueError as exc:
                    deliveries.append(Delivery(message.send_id, "failed", error=str(exc)))
                    continue
                chunks.append(_mbox_entry(rendered, envelope_date))
                written.append((message.send_id, rendered.message_id))
        path = self.batch_path(context)
        try:
            _write_atomically(path, b"".join(chunks))
        except OSError as exc:
            log.error("outbox: cannot write %s: %s", path, exc)
            error = f"cannot write {path}: {exc.strerror or exc}"
            deliveries += same_outcome((send_id for send_id, _ in written), "retry", error=error)
            return deliveries
        deliveries += [Delivery(send_id, "sent", provider_id=mid) for send_id, mid in written]
        return deliveries

    def close(self) -> None:
        """Nothing to release: every batch opens and closes its own file."""


def _mbox_entry(rendered: mime.RenderedMessage, envelope_date: str) -> bytes:
    sender = rendered.envelope_from if " " not in rendered.envelope_from else "MAILER-DAEMON"
    data = rendered.data
    if b"\nFrom " in data:
        # mime never writes such lines (bodies use =46rom); mangle them as mbox readers expect.
        data = data.replace(b"\nFrom ", b"\n>From ")
    return b"From " + sender.encode() + b" " + envelope_date.encode() + b"\n" + data + b"\n"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)
