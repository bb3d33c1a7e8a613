"""A person's messages out of the files the project wrote: the outbox and previews.

An mbox file is rewritten without every message that mentions the address (in any
header or any decoded part), through a temporary file and an atomic rename; a file
left empty is removed. Other files (previews: `.eml`, `.html`, `.txt`, `.json`) that
mention the address are removed: they are copies that `cxops preview` makes again.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import mailbox
import os
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

_COPIES = (".eml", ".html", ".txt", ".json", ".jsonl", ".csv")


def scrub_files(folders: list[Path], address: str) -> tuple[list[str], int]:
    """(files changed or removed, messages removed) for `address` under `folders`."""
    changed: list[str] = []
    removed = 0
    for path in _files(folders):
        if path.suffix == ".mbox":
            dropped = _rewrite_mbox(path, address)
            if dropped:
                changed.append(str(path))
                removed += dropped
        elif path.suffix in _COPIES and _mentions(path.read_bytes(), address):
            path.unlink()
            changed.append(str(path))
    return changed, removed


def messages_about(folders: list[Path], address: str) -> Iterator[tuple[Path, Message]]:
    """Every outbox message that mentions `address` (for the subject-access export)."""
    for path in _files(folders):
        if path.suffix != ".mbox":
            continue
        for message in _read_mbox(path):
            if _message_mentions(message, address):
                yield path, message


def _files(folders: list[Path]) -> Iterator[Path]:
    for folder in folders:
        if folder.is_dir():
            yield from sorted(p for p in folder.rglob("*") if p.is_file())


def _read_mbox(path: Path) -> list[Message]:
    box = mailbox.mbox(path, create=False)
    try:
        return [email.message_from_bytes(box.get_bytes(key)) for key in box.keys()]  # noqa: SIM118 - iterating yields messages
    finally:
        box.close()


def _rewrite_mbox(path: Path, address: str) -> int:
    box = mailbox.mbox(path, create=False)
    try:
        raw = [box.get_bytes(key, from_=True) for key in box.keys()]  # noqa: SIM118 - iterating yields messages
    finally:
        box.close()
    kept = [item for item in raw if not _message_mentions(_parse(item), address)]
    dropped = len(raw) - len(kept)
    if not dropped:
        return 0
    if not kept:
        path.unlink()
        return dropped
    temporary = path.with_name(f".{path.name}.forget.tmp")
    with temporary.open("wb") as handle:
        for item in kept:
            handle.write(item if item.endswith(b"\n") else item + b"\n")
            handle.write(b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return dropped


def _parse(raw: bytes) -> Message:
    body = raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw
    return email.message_from_bytes(body, policy=email.policy.compat32)


def _message_mentions(message: Message, address: str) -> bool:
    if _mentions(message.as_bytes(), address):
        return True
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and _mentions(payload, address):
            return True
    for value in message.values():
        try:
            decoded = str(email.header.make_header(email.header.decode_header(value)))
        except (ValueError, LookupError, UnicodeError):
            continue
        if address in decoded.lower():
            return True
    return False


def _mentions(data: bytes, address: str) -> bool:
    return address.encode() in data.lower()
