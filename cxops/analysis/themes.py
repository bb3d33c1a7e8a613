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
from typing import TYPE_CHECKING, Any, NamedTuple

from cxops.analysis.data import Comment
from cxops.analysis.metrics import headline, scored_metrics, share
from cxops.analysis.report_model import Figure, RevenueAtStake, Theme, Themes
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
    metric among them, revenue at stake and up to three quotes (negative ones first, then
    the latest; the same words once); then the untagged answers. An answer with several
    text questions is one answer: it counts once per theme any of its texts mentions.

    Revenue at stake: the revenue column of the customers whose latest answer mentioning
    the theme is negative (detractors, dissatisfied), each customer once.

    `min_n`: a theme mentioned by fewer answers shows its count only (no share, metric,
    revenue, negatives or quotes); with fewer commenting answers in all, every theme is
    such and no untagged comment is quoted."""
    matcher = compile_themes(survey.themes)
    by_response: dict[int, list[Comment]] = {}
    for comment in comments:
        by_response.setdefault(comment.response_id, []).append(comment)
    kind = survey.main_question.type if survey.main_question is not None else ""
    negative_score = _negative_scores(kind)
    mentions: dict[str, list[_Mention]] = {name: [] for name, _ in matcher.patterns}
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
                        _Mention(
                            negative,
                            response_id,
                            comment.text,
                            first.score,
                            first.revenue,
                            first.contact_key,
                        )
                    )
                    tagged = True
        if not tagged:
            untagged.append(texts)
    answers = len(by_response)
    enough = answers >= min_n
    themes = {
        name: _theme(survey, kind, found, answers, min_n if enough else max(min_n, answers + 1))
        for name, found in mentions.items()
    }
    shown_untagged = untagged[-untagged_limit:][::-1] if enough else []
    return Themes(
        answers=answers,
        revenue_column=survey.report.revenue,
        themes=themes,
        untagged_count=len(untagged),
        untagged=_distinct(redact(" / ".join(c.text for c in texts)) for texts in shown_untagged),
    )


class _Mention(NamedTuple):
    negative: bool
    response_id: int
    text: str
    score: int | None
    revenue: float | None
    contact_key: str


def _theme(survey: Survey, kind: str, found: list[_Mention], answers: int, min_n: int) -> Theme:
    count = len(found)
    if count < min_n:
        return Theme(suppressed=True, count=count, share=Figure(suppressed=True, n=count))
    latest: dict[str, _Mention] = {}
    for mention in found:  # in id order: a customer's later answer wins
        latest[mention.contact_key] = mention
    at_stake = [m for m in latest.values() if m.negative]
    revenues = [m.revenue for m in at_stake if m.revenue is not None]
    entry: dict[str, Any] = {
        "count": count,
        "share": share(count, answers).figure(),
        "negative": sum(m.negative for m in found),
    }
    if kind:
        metric_name = headline(kind) or "mean"
        scores = Counter(m.score for m in found if m.score is not None)
        entry["metric"] = metric_name
        entry[metric_name] = scored_metrics(kind, scores)[metric_name].figure(min_n)
    if survey.report.revenue:
        entry["revenue_at_stake"] = RevenueAtStake(
            value=round(sum(revenues), 2),
            n=len(at_stake),
            missing=len(at_stake) - len(revenues),
        )
    ordered = sorted(found, key=lambda m: (not m.negative, -m.response_id))
    entry["quotes"] = _distinct((redact(m.text) for m in ordered), limit=3)
    # The metric's figure is keyed by its own name (`nps`, `satisfied`, …).
    return Theme.model_validate(entry)


def _distinct(texts: Iterable[str], limit: int | None = None) -> list[str]:
    """`texts` in order, each wording once (case and spacing aside), at most `limit`."""
    seen: set[str] = set()
    found: list[str] = []
    for text in texts:
        key = " ".join(text.casefold().split())
        if key in seen:
            continue
        seen.add(key)
        found.append(text)
        if limit is not None and len(found) == limit:
            break
    return found


def _negative_scores(kind: str) -> dict[int | None, bool]:
    """score -> whether it is in a negative category, for every score of the scale."""
    return {score: is_negative(score_category(kind, score)) for score in range(0, 101)}
