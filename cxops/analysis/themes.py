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

import heapq
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cxops.analysis.data import Comment
from cxops.analysis.metrics import headline, scored_metrics, share
from cxops.analysis.report_model import RevenueAtStake, Theme, Themes
from cxops.followup.category import is_negative, score_category

if TYPE_CHECKING:
    from cxops.spec.models import Survey

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


# -- the report's themes section --------------------------------------------------------


def themes_section(
    survey: Survey, comments: Sequence[Comment], min_n: int, *, untagged_limit: int = 50
) -> Themes:
    """Per theme: answers mentioning it, their share of all commenting answers, the main
    metric among them, revenue at stake (the revenue column summed over the negative
    ones: detractors, dissatisfied) and up to three quotes (negative ones first, then the
    latest); then the untagged answers. An answer with several text questions is one
    answer: it counts once per theme any of its texts mentions."""
    matcher = compile_themes(survey.themes)
    by_response: dict[int, list[Comment]] = {}
    for comment in comments:
        by_response.setdefault(comment.response_id, []).append(comment)
    kind = survey.main_question.type if survey.main_question is not None else ""
    negative_score = _negative_scores(kind)
    #: theme -> [(is negative, response id, quoted text, score, revenue)]
    mentions: dict[str, list[tuple[bool, int, str, int | None, float | None]]] = {
        name: [] for name, _ in matcher.patterns
    }
    untagged: list[list[Comment]] = []
    # Short comments repeat ("Too expensive", "Nothing"): each text is matched once.
    themes_of: dict[str, list[str]] = {}
    for response_id, texts in by_response.items():
        first = texts[0]
        negative = negative_score.get(first.score, False)
        tagged = False
        seen: set[str] = set()
        for comment in texts:
            names = themes_of.get(comment.text)
            if names is None:
                names = themes_of[comment.text] = matcher.themes_of(comment.text)
            for name in names:
                if name not in seen:
                    seen.add(name)
                    mentions[name].append(
                        (negative, response_id, comment.text, first.score, first.revenue)
                    )
                    tagged = True
        if not tagged:
            untagged.append(texts)
    answers = len(by_response)
    themes: dict[str, Theme] = {}
    for name, found in mentions.items():
        count = len(found)
        negatives = [m for m in found if m[0]]
        revenues = [m[4] for m in negatives if m[4] is not None]
        entry: dict[str, Any] = {
            "count": count,
            "share": share(count, answers).figure(),
            "negative": len(negatives),
        }
        if kind:
            metric_name = headline(kind) or "mean"
            scores = Counter(m[3] for m in found if m[3] is not None)
            entry["metric"] = metric_name
            entry[metric_name] = scored_metrics(kind, scores)[metric_name].figure(min_n)
        if survey.report.revenue:
            entry["revenue_at_stake"] = (
                RevenueAtStake(suppressed=True, n=count)
                if count < min_n
                else RevenueAtStake(
                    value=round(sum(revenues), 2),
                    n=len(negatives),
                    missing=len(negatives) - len(revenues),
                )
            )
        quoted = heapq.nsmallest(3, found, key=lambda m: (not m[0], -m[1]))
        entry["quotes"] = [redact(m[2]) for m in quoted]
        # The metric's figure is keyed by its own name (`nps`, `satisfied`, …).
        themes[name] = Theme.model_validate(entry)
    return Themes(
        answers=answers,
        revenue_column=survey.report.revenue,
        themes=themes,
        untagged_count=len(untagged),
        untagged=[
            redact(" / ".join(c.text for c in texts)) for texts in untagged[-untagged_limit:][::-1]
        ],
    )


def _negative_scores(kind: str) -> dict[int | None, bool]:
    """score -> whether it is in a negative category, for every score of the scale."""
    return {score: is_negative(score_category(kind, score)) for score in range(0, 101)}
