"""`cxops preview`: render invitations for real contacts without sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxops.audience import read_source
from cxops.audience.contacts import Contact
from cxops.audience.select import segment_of
from cxops.errors import NotFoundError
from cxops.expr import Evaluator
from cxops.messages.render import InvitationRenderer, SendView
from cxops.messages.types import OutgoingMessage
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.db import open_store, store_exists
from cxops.store.erasures import erased_addresses
from cxops.wave.ids import WaveContext
from cxops.wave.plan import json_safe, plan_only


@dataclass
class Preview:
    contact_key: str
    locale: str
    message: OutgoingMessage

    def as_dict(self) -> dict[str, Any]:
        return {
            "contact": self.contact_key,
            "locale": self.locale,
            "to": self.message.to_email,
            "subject": self.message.subject,
            "text": self.message.text,
            "html": self.message.html,
            "headers": self.message.headers,
        }


def _chosen_contacts(survey: Survey, settings: Settings, keys: Sequence[str]) -> list[Contact]:
    wanted = set(keys)
    found: dict[str, Contact] = {}
    for row in read_source(survey.audience.source, settings.project_dir):
        if isinstance(row, Contact) and row.key in wanted and row.key not in found:
            found[row.key] = row
    missing = [key for key in keys if key not in found]
    if missing:
        raise NotFoundError(
            f"no valid contact with key {', '.join(repr(k) for k in missing)} in the survey's source"
        )
    erased = [key for key in keys if _was_erased(settings, found[key].email)]
    if erased:
        raise NotFoundError(
            f"contact {', '.join(repr(k) for k in erased)} was erased on request "
            "(cxops forget): no preview is made of them"
        )
    return [found[key] for key in keys]


def _was_erased(settings: Settings, email: str) -> bool:
    if not store_exists(settings.store_url):
        return False
    store = open_store(settings.store_url, upgrade=False)
    try:
        with store.engine.connect() as conn:
            return email in erased_addresses(conn, settings.signing_key)
    finally:
        store.dispose()


def preview_invitations(
    wave: WaveContext,
    *,
    keys: Sequence[str] = (),
    locale: str | None = None,
    count: int = 3,
) -> list[Preview]:
    """The invitations chosen contacts (or the first sampled ones) would get."""
    survey, settings = wave.survey, wave.settings
    pairs: list[tuple[Contact, str]] = []
    if keys:
        evaluator = Evaluator(wave.now, settings.holidays)
        for contact in _chosen_contacts(survey, settings, keys):
            pairs.append((contact, segment_of(survey, contact, evaluator)))
    else:
        for invitee in plan_only(wave).invitees:
            pairs.append((invitee.contact, invitee.segment))
            if len(pairs) >= count:
                break
    renderer = InvitationRenderer(survey, settings, wave_id="preview")
    expires_at = survey.invitation.expires_after.after(wave.now, settings.holidays)
    previews = []
    for index, (contact, segment) in enumerate(pairs):
        view = SendView(
            send_id=f"preview{index:09d}",
            email=contact.email,
            contact_key=contact.key,
            segment=segment,
            locale=locale or contact.locale,
            contact=json_safe(contact.fields),
            step=0,
            expires_at=expires_at,
        )
        message = renderer.render_one(view)
        previews.append(Preview(contact.key, renderer.locale_for(view), message))
    return previews


def _file_stem(key: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
    return safe or "contact"


def write_preview(previews: Sequence[Preview], out: Path) -> list[tuple[Preview, list[Path]]]:
    """Each preview as KEY.html (open it in a browser), KEY.txt and KEY.eml."""
    from cxops.channels.mime import render as render_mime

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for preview in previews:
        stem = out / _file_stem(preview.contact_key)
        html_path = stem.with_suffix(".html")
        text_path = stem.with_suffix(".txt")
        eml_path = stem.with_suffix(".eml")
        html_path.write_text(preview.message.html, encoding="utf-8")
        text_path.write_text(
            f"Subject: {preview.message.subject}\n\n{preview.message.text}", encoding="utf-8"
        )
        eml_path.write_bytes(render_mime(preview.message, date=datetime.now(UTC)).data)
        written.append((preview, [html_path, text_path, eml_path]))
    return written
