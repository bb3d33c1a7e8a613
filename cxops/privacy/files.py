"""A person's messages out of the files the project wrote: the outbox, previews, reports.

An mbox file is rewritten without every message that mentions the address (in any
header or any decoded part), through a temporary file and an atomic rename; a file
left empty is removed. Other files (previews: `.eml`, `.html`, `.txt`, `.json`) that
mention the address are removed with the files beside them of the same name (a
preview's `KEY.html` and `KEY.txt` name the person without their address, its
`KEY.eml` has it): they are copies that `cxops preview` makes again. A report that
quotes one of the person's free-text answers is removed too (`cxops report` makes it
again from the store, where the answer is gone).
"""

from __future__ import annotations

import email
import email.header
import email.policy
import glob
import html
import json
import mailbox
import os
import re
from collections.abc import Iterable, Iterator
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
        elif path.suffix in _COPIES and path.exists() and _mentions(path.read_bytes(), address):
            for copy in [path, *_siblings(path)]:
                copy.unlink()
                changed.append(str(copy))
    return changed, removed


def _siblings(path: Path) -> list[Path]:
    """The other copies made with `path` (same folder and name, another copy suffix)."""
    return sorted(
        p
        for p in path.parent.glob(f"{glob.escape(path.stem)}.*")
        if p != path and p.is_file() and p.suffix in _COPIES and p.stem == path.stem
    )


#: Addresses in a quote, as the report replaces them (`cxops.analysis.themes.redact`).
_ADDRESS_IN_TEXT = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[^\s@<>()\[\],;:\"']+")
#: A shorter answer ("too slow") would match reports that do not quote the person.
_MIN_QUOTE = 12
_REPORTS = (".html", ".json", ".md", ".txt", ".csv")


def scrub_reports(folder: Path, answers: Iterable[str]) -> list[str]:
    """Reports under `folder` that quote one of `answers` (free text), removed."""
    fragments = {_fragment(answer) for answer in answers} - {""}
    if not fragments or not folder.is_dir():
        return []
    forms = fragments | {json.dumps(f)[1:-1] for f in fragments}
    removed: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in _REPORTS):
        text = " ".join(html.unescape(path.read_text(encoding="utf-8", errors="replace")).split())
        if any(form in text for form in forms):
            path.unlink()
            removed.append(str(path))
    return removed


def _fragment(answer: str) -> str:
    """The longest part of `answer` a report shows verbatim (whitespace collapsed,
    addresses replaced, cut at 120 characters), or "" when too short to tell."""
    parts = _ADDRESS_IN_TEXT.split(" ".join(answer.split()))
    longest = max((part.strip() for part in parts), key=len, default="")[:120].strip()
    return longest if len(longest) >= _MIN_QUOTE else ""


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
