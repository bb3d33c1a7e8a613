"""Themes: the survey's `themes:` keywords tag text answers.

Matching is case-insensitive (Unicode case folding), on whole words and phrases
("set up" matches "set  up" but not "setups"), for letters of any language: a
keyword matches where no letter, digit or underscore touches it on either side
(Python's Unicode `\\w`). Scripts written without spaces between words (Chinese,
Japanese kana and kanji, Thai, Lao, Khmer, Myanmar) have no such boundaries: their
keywords match anywhere. An answer counts once per theme however often it says
the theme's words. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cxops.analysis.data import Comment
from cxops.analysis.metrics import headline, scored_metrics, share
from cxops.followup.category import is_negative, score_category

#: Addresses in quotes are replaced by this (a quote never names who wrote it).
EMAIL_IN_TEXT = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[^\s@<>()\[\],;:\"']+")
REDACTED = "[email]"


@dataclass(frozen=True, slots=True)
class ThemeMatcher:
    """One compiled pattern per theme, in the survey's order."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    def themes_of(self, text: str) -> list[str]:
        """The themes `text` mentions, each once, in the survey's order."""
        folded = text.casefold()
        return [name for name, pattern in self.patterns if pattern.search(folded)]


def compile_themes(themes: Mapping[str, Sequence[str]]) -> ThemeMatcher:
    """A matcher for `{theme: [keyword or phrase, ...]}`; empty keywords are ignored."""
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for name, keywords in themes.items():
        alternatives = sorted(
            {(k, _keyword_pattern(k)) for k in keywords if k.strip()},
            key=lambda item: (-len(item[1]), item[1]),
        )
        if not alternatives:
            continue
        bounded = [p for k, p in alternatives if not _unspaced(k)]
        anywhere = [p for k, p in alternatives if _unspaced(k)]
        parts = []
        if bounded:
            parts.append(r"(?<!\w)(?:" + "|".join(bounded) + r")(?!\w)")
        if anywhere:
            parts.append("(?:" + "|".join(anywhere) + ")")
        compiled.append((name, re.compile("|".join(parts))))
    return ThemeMatcher(tuple(compiled))


#: Scripts written without spaces between words: no word boundaries to look for.
_UNSPACED = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "IDEOGRAPHIC")


def _unspaced(keyword: str) -> bool:
    return any(unicodedata.name(char, "").startswith(_UNSPACED) for char in keyword)


def _keyword_pattern(keyword: str) -> str:
    words = keyword.casefold().split()
    return r"\s+".join(re.escape(word) for word in words)


def redact(text: str, limit: int = 400) -> str:
    """A quote fit to show: addresses replaced, cut at `limit` characters (plain text;
    escaping is the output's job)."""
    cleaned = EMAIL_IN_TEXT.sub(REDACTED, " ".join(text.split()))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def tag_all(matcher: ThemeMatcher, texts: Iterable[str]) -> list[list[str]]:
    """The themes of each text, in order."""
    return [matcher.themes_of(text) for text in texts]


# -- the report's themes section --------------------------------------------------------


def themes_section(
    survey: Any, comments: Sequence[Comment], min_n: int, *, untagged_limit: int = 50
) -> dict[str, Any]:
    """Per theme: answers mentioning it, their share of all commenting answers, the main
    metric among them, revenue at stake (the revenue column summed over the negative
    ones: detractors, dissatisfied) and up to three quotes; then the untagged answers."""
    matcher = compile_themes(survey.themes)
    by_response: dict[int, list[Comment]] = {}
    for comment in comments:
        by_response.setdefault(comment.response_id, []).append(comment)
    answers = len(by_response)
    kind = survey.main_question.type if survey.main_question is not None else None
    mentions: dict[str, list[list[Comment]]] = {name: [] for name, _ in matcher.patterns}
    untagged: list[list[Comment]] = []
    for response_id in sorted(by_response):
        texts = by_response[response_id]
        found = {theme for c in texts for theme in matcher.themes_of(c.text)}
        for name in found:
            mentions[name].append(texts)
        if not found:
            untagged.append(texts)
    themes: dict[str, Any] = {}
    for name, responses in mentions.items():
        scores = Counter(t[0].score for t in responses if t[0].score is not None)
        negative = [t for t in responses if is_negative(score_category(kind or "", t[0].score))]
        revenues = [t[0].revenue for t in negative if t[0].revenue is not None]
        entry: dict[str, Any] = {
            "count": len(responses),
            "share": share(len(responses), answers).as_dict(),
            "negative": len(negative),
        }
        if kind is not None:
            metric_name = headline(kind) or "mean"
            metric = scored_metrics(kind, scores)[metric_name]
            entry["metric"] = metric_name
            entry[metric_name] = metric.as_dict(min_n)
        if survey.report.revenue:
            entry["revenue_at_stake"] = (
                {"suppressed": True, "n": len(responses)}
                if len(responses) < min_n
                else {
                    "value": round(sum(revenues), 2),
                    "n": len(negative),
                    "missing": len(negative) - len(revenues),
                }
            )
        ordered = sorted(responses, key=lambda t: (not _is_neg(kind, t), -t[0].response_id))
        entry["quotes"] = [redact(t[0].text) for t in ordered[:3]]
        themes[name] = entry
    return {
        "answers": answers,
        "revenue_column": survey.report.revenue,
        "themes": themes,
        "untagged_count": len(untagged),
        "untagged": [
            redact(" / ".join(c.text for c in texts)) for texts in untagged[-untagged_limit:][::-1]
        ],
    }


def _is_neg(kind: str | None, texts: list[Comment]) -> bool:
    return is_negative(score_category(kind or "", texts[0].score))
