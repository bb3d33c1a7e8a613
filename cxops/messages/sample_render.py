"""`cxops validate`: render every template a survey names, as `run` would, before it runs.

Each locale of `invitation.locales`, the invitation and each reminder step, subject,
HTML and text, rendered for a sample contact: the first good row of the survey's own
CSV or Parquet source, or placeholders typed by its `columns:` (an SQL source, or a
file that cannot be read). A failure is one problem at `template:` naming the
template file and line, so that `validate` refuses what `run` would stop on.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from cxops.audience import read_source
from cxops.audience.contacts import Contact
from cxops.audience.select import OTHER_SEGMENT
from cxops.errors import CxopsError, Problem
from cxops.messages.render import InvitationRenderer, SendView
from cxops.settings import Settings
from cxops.spec.models import CsvSource, ParquetSource, Survey
from cxops.spec.yaml_marks import MarkedDocument

#: Links are signed with this key: validating never creates the project's key file.
_SAMPLE_KEY = b"validate-sample-key-not-for-links"
#: Rows read looking for a good one before typed placeholders are used instead.
_ROWS_LOOKED_AT = 100
_PLACEHOLDERS: dict[str, Any] = {
    "int": 1,
    "float": 1.5,
    "date": date(2026, 1, 15).isoformat(),
    "datetime": datetime(2026, 1, 15, 9, 30).isoformat(),
    "bool": True,
    "str": "Sample",
}


class _SampleColumns(dict[str, Any]):
    """Placeholder contact fields: a column not declared reads as sample text."""

    def __missing__(self, key: str) -> Any:
        return "Sample"


def render_problems(survey: Survey, document: MarkedDocument, settings: Settings) -> list[Problem]:
    """The first rendering failure of `survey`'s invitation templates, at `template:`."""
    contact, described = _sample_contact(survey, settings)
    renderer = InvitationRenderer(survey, settings, wave_id="validate")
    expires_at = settings.clock() + timedelta(days=14)
    reminders = survey.invitation.reminder.max if survey.invitation.reminder else 0
    # The invitation as it is, then each variant (its subject, its template).
    variants: list[str | None] = [None, *(v.id for v in survey.invitation.variants)]
    steps = range(reminders + 1)
    for variant, locale, step in itertools.product(variants, survey.invitation.locales, steps):
        view = SendView(
            send_id="validate000000",
            email=str(contact.get("email") or "sample@example.com"),
            contact_key=str(contact.get(survey.audience.source.key) or "sample"),
            segment=next(iter(survey.audience.segments), OTHER_SEGMENT),
            locale=locale,
            contact=contact,
            step=step,
            expires_at=expires_at,
            variant=variant,
        )
        try:
            renderer.render_alone(view, key=_SAMPLE_KEY)
        except CxopsError as exc:
            which = f"reminder {step}" if step else "the invitation"
            if variant is not None:
                which += f" of variant {variant!r}"
            return [
                document.problem(
                    _variant_key(survey, variant) or _template_key(document),
                    f"cannot render {which} in locale {locale!r} for {described}: {exc}",
                )
            ]
    return []


def _variant_key(survey: Survey, variant: str | None) -> Sequence[Hashable] | None:
    """Where a variant is declared (None: the invitation itself)."""
    ids = [known.id for known in survey.invitation.variants]
    return None if variant is None else ("invitation", "variants", ids.index(variant))


def _template_key(document: MarkedDocument) -> Sequence[Hashable]:
    path: tuple[Hashable, ...] = ("invitation", "template")
    return path if document.has(path) else ("invitation",)


def _sample_contact(survey: Survey, settings: Settings) -> tuple[dict[str, Any], str]:
    """(the contact's fields as a template sees them, what it is in words)."""
    source = survey.audience.source
    if isinstance(source, CsvSource | ParquetSource):
        for contact in _first_contacts(survey, settings):
            return _as_template_values(contact.fields), f"the source's contact {contact.key!r}"
    fields = _SampleColumns({name: _PLACEHOLDERS[kind] for name, kind in source.columns.items()})
    fields.setdefault(source.key, "sample-1")
    fields.setdefault(source.email, "sample@example.com")
    return fields, "a sample contact typed by the source's columns"


def _first_contacts(survey: Survey, settings: Settings) -> Iterator[Contact]:
    try:
        rows = read_source(survey.audience.source, settings.project_dir)
        for row in itertools.islice(rows, _ROWS_LOOKED_AT):
            if isinstance(row, Contact):
                yield row
                return
    except (CxopsError, OSError):
        # The source's own problem is reported by the spec checks or at run time.
        return


def _as_template_values(fields: dict[str, Any]) -> dict[str, Any]:
    """As the ledger keeps them: dates and datetimes as ISO text."""
    return {
        name: value.isoformat() if isinstance(value, date | datetime) else value
        for name, value in fields.items()
    }
