"""Which locale a contact gets: their own, then its language, then en (or the first offered)."""

from __future__ import annotations

from collections.abc import Sequence

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
    """The best of `available` for `requested`: exact, language, en, else the first."""
    offered = list(available)
    for candidate in locale_chain(requested):
        if candidate in offered:
            return candidate
    if DEFAULT_LOCALE in offered or not offered:
        return DEFAULT_LOCALE
    return offered[0]
