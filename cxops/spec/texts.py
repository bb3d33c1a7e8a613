"""Customer-facing texts in one language or many (docs/survey-format.md, "Languages"). Pure.

A survey's `title`, a question's `text`, `options` and `labels`, an interview's
`consent` and `incentive` are each a string or a mapping of locale to string:
`{en: "How satisfied are you?", de: "Wie zufrieden sind Sie?"}`.

A contact's locale resolves against the survey's `invitation.locales`: `pt-BR`, then
`pt`, then the first declared locale (`resolve`). A text is then read in that locale,
else the survey's first locale, else its first entry (`pick`). An option's stored
value, the one rules and exports see, is its first entry (`option_value`), so an
answer means the same in every language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

from cxops.locales import DEFAULT_LOCALE, locale_chain, resolve_locale

#: A string, or locale -> string.
Text: TypeAlias = str | Mapping[str, str]

#: The heading customers see when a survey has no `title`, per kind and language.
DEFAULT_TITLES: Mapping[str, Mapping[str, str]] = {
    "nps": {
        "en": "Would you recommend us?",
        "de": "Würden Sie uns weiterempfehlen?",
        "fr": "Nous recommanderiez-vous ?",
    },
    "csat": {
        "en": "How did we do?",
        "de": "Wie zufrieden waren Sie?",
        "fr": "Comment nous sommes-nous débrouillés ?",
    },
    "ces": {
        "en": "How easy was it?",
        "de": "Wie einfach war es?",
        "fr": "Était-ce facile ?",
    },
    "custom": {
        "en": "A few questions for you",
        "de": "Ein paar Fragen an Sie",
        "fr": "Quelques questions pour vous",
    },
    "interview": {
        "en": "Would you talk to us?",
        "de": "Möchten Sie mit uns sprechen?",
        "fr": "Accepteriez-vous d’échanger avec nous ?",
    },
}


#: A contact's locale as the survey's pages and emails speak it (`pt-BR` -> `pt` -> the
#: survey's first locale): the one rule, from the shared leaf.
resolve = resolve_locale


def pick(text: Text, locale: str, declared: Sequence[str] = ()) -> str:
    """`text` in `locale` (or its language), else the survey's first locale, else its first."""
    if isinstance(text, str):
        return text
    for candidate in (*locale_chain(locale), *declared[:1]):
        if candidate in text:
            return text[candidate]
    return next(iter(text.values()))


def option_value(option: Text) -> str:
    """What an answer stores for `option`: the option itself, or its first entry."""
    if isinstance(option, str):
        return option
    return next(iter(option.values()))


def missing_locales(text: Text, declared: Sequence[str]) -> list[str]:
    """The declared locales a localized `text` lacks (none for a plain string)."""
    if isinstance(text, str):
        return []
    return [locale for locale in declared if locale not in text]


def default_title(kind: str, locale: str) -> str:
    """The neutral heading of a survey of `kind` in `locale` (English when unknown)."""
    titles = DEFAULT_TITLES.get(kind, DEFAULT_TITLES["custom"])
    for candidate in locale_chain(locale):
        if candidate in titles:
            return titles[candidate]
    return titles[DEFAULT_LOCALE]


def title_for(title: Text | None, kind: str, locale: str, declared: Sequence[str]) -> str:
    """The survey's customer-facing heading in `locale`."""
    if title is None:
        return default_title(kind, locale)
    return pick(title, locale, declared)
