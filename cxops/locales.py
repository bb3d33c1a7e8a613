"""Which locale a contact gets: their own, then its language, then en (or the first offered).

A leaf: imports nothing of cxops (spec checks, messages and the collector share it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

DEFAULT_LOCALE = "en"


def locale_chain(requested: str | None) -> list[str]:
    """`pt_BR` / `pt-br` -> ['pt-BR', 'pt']; None -> []."""
    if not requested:
        return []
    text = str(requested).strip().replace("_", "-")
    if not text:
        return []
    parts = text.split("-")
    language = parts[0].lower()
    chain = []
    if len(parts) > 1 and parts[1]:
        region = parts[1].upper() if len(parts[1]) == 2 else parts[1]
        chain.append(f"{language}-{region}")
    chain.append(language)
    return chain


def resolve_locale(requested: str | None, available: Sequence[str]) -> str:
    """The best of `available` for `requested`: exact (`pt-BR`), its language (`pt`), else
    the first offered (a survey's first `invitation.locales`; en when none is offered)."""
    offered = list(available)
    for candidate in locale_chain(requested):
        if candidate in offered:
            return candidate
    return offered[0] if offered else DEFAULT_LOCALE


_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}
_DATE_FORMATS = {
    "en": "{day} {month} {year}",
    "de": "{day}. {month} {year}",
    "fr": "{day} {month} {year}",
}


def format_date(value: date, locale: str | None) -> str:
    """A date as people write it in `locale`: '7 December 2026', '7. Dezember 2026'.

    Languages without a table get the unambiguous ISO form, 2026-12-07.
    """
    language = (locale_chain(locale) or [DEFAULT_LOCALE])[-1]
    if language not in _MONTHS:
        return value.isoformat()[:10]
    month = _MONTHS[language].split()[value.month - 1]
    return _DATE_FORMATS[language].format(day=value.day, month=month, year=value.year)
