"""Themes nobody thought of: keyword groups for the comments no theme of the survey matched.

`cxops themes suggest` hands this module a survey's comments (one per text answer, with
the answer's locale); it keeps the answers none of the survey's themes match and
proposes keyword groups for them. Pure functions, deterministic: the same comments give
the same groups in the same order, whatever order they come in (answers are read by id,
every tie is broken by the term's text).

1. Words: letters only (no digits, no addresses, no links), case-folded, the stop words
   of the comment's language dropped (its locale's language, unless its words are
   plainly another's; `cxops.analysis.stopwords`). A term is a word's light stem (plural
   and verb endings, accents folded) or two adjacent words ("dark mode").
2. Distinctive terms: in at least two untagged answers, relatively more common among
   untagged answers than among tagged ones, scored by TF-IDF over all commenting
   answers (document frequency among the untagged × log of its rarity overall). A word
   that mostly occurs inside two-word terms ("mode" in "dark mode", "mode sombre") is
   left to them.
3. Groups, greedily: the best-scoring term over the answers no accepted group covers
   yet seeds a group; a term joins when at least half of its answers, and at least half
   of `min_n`, are already in the group and it brings answers the group lacks, up to
   `MAX_TERMS`. A group is proposed when its keywords, matched exactly as the survey's
   themes are (`cxops.analysis.themes.compile_themes`), cover at least `min_n` untagged
   answers, most of them not covered by an earlier group.
4. Each group: an id from its first keyword (unique, not one of the survey's), its
   keywords (each term's commonest spellings), the answers it covers
   and their share of the untagged answers, the languages, and up to three example
   quotes (redacted and cut as the report's quotes are, never the same text twice).

Nothing here reads or writes anything: the CLI prints what it returns.
"""

from __future__ import annotations

import functools
import math
import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import yaml

from cxops.analysis.stopwords import ANY_STOP_WORD, STOP_WORDS
from cxops.analysis.themes import EMAIL_IN_TEXT, compile_themes, redact

#: At most this many groups are proposed (the strongest first).
MAX_THEMES = 10
#: At most this many terms (each with its spellings) per group.
MAX_TERMS = 6
#: At most this many spellings of one term.
MAX_SPELLINGS = 4
#: Example quotes per group.
EXAMPLES = 3
#: A term joins a group when at least this share of its answers is in the group.
JOIN_SHARE = 0.5
#: A word is left to the two-word terms holding at least this share of its answers.
PHRASE_SHARE = 0.8


class TextAnswer(NamedTuple):
    """One text answer: the answer it belongs to, the answer's locale, what it says."""

    response_id: int
    locale: str
    text: str


@dataclass(frozen=True, slots=True)
class SuggestedTheme:
    """One proposed keyword group."""

    id: str
    keywords: tuple[str, ...]
    #: Untagged answers the keywords match.
    count: int
    #: `count` as a share of the untagged answers (0..1).
    share: float
    #: Languages of the answers it covers (primary subtags), sorted.
    languages: tuple[str, ...]
    examples: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "keywords": list(self.keywords),
            "count": self.count,
            "share": round(self.share, 4),
            "languages": list(self.languages),
            "examples": list(self.examples),
        }


@dataclass(frozen=True, slots=True)
class Suggestions:
    """What `cxops themes suggest` shows: the counts and the proposed groups."""

    #: Answers with at least one text.
    answers: int
    #: Answers none of the survey's themes match.
    untagged: int
    min_n: int
    themes: tuple[SuggestedTheme, ...]
    #: Untagged answers at least one proposed group covers.
    covered: int
    #: Whether the survey already has a `themes:` block (the YAML is then its entries only).
    has_themes: bool = False

    def yaml(self) -> str:
        """The groups as YAML to paste into the survey: entries indented under the
        survey's `themes:` block, or the whole block when the survey has none."""
        if not self.themes:
            return ""
        entries = yaml.safe_dump(
            {theme.id: list(theme.keywords) for theme in self.themes},
            allow_unicode=True,
            sort_keys=False,
            default_flow_style=None,
            width=10_000,
        )
        block = textwrap.indent(entries, "  ")
        return block if self.has_themes else "themes:\n" + block

    def document(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "untagged": self.untagged,
            "min_n": self.min_n,
            "covered": self.covered,
            "covered_share": round(self.covered / self.untagged, 4) if self.untagged else None,
            "themes": [theme.document() for theme in self.themes],
            "yaml": self.yaml(),
        }


def suggest_themes(
    themes: Mapping[str, Sequence[str]], answers: Iterable[TextAnswer], min_n: int
) -> Suggestions:
    """Keyword groups for the answers none of `themes` match (see the module's text)."""
    matcher = compile_themes(themes)
    by_response: dict[int, list[TextAnswer]] = {}
    for answer in sorted(answers, key=lambda a: (a.response_id, a.text)):
        by_response.setdefault(answer.response_id, []).append(answer)
    untagged: dict[int, list[TextAnswer]] = {}
    tagged_terms: Counter[str] = Counter()
    for response_id, texts in by_response.items():
        if any(matcher.themes_of(a.text) for a in texts):
            tagged_terms.update(_answer_terms(texts).keys())
        else:
            untagged[response_id] = texts
    base = Suggestions(
        answers=len(by_response),
        untagged=len(untagged),
        min_n=min_n,
        themes=(),
        covered=0,
        has_themes=bool(themes),
    )
    if len(untagged) < max(min_n, 1):
        return base
    index = _TermIndex.build(untagged, tagged_terms, tagged=len(by_response) - len(untagged))
    found = _groups(index, untagged, min_n, set(themes))
    covered: set[int] = set()
    for _, docs in found:
        covered |= docs
    return Suggestions(
        answers=base.answers,
        untagged=base.untagged,
        min_n=min_n,
        themes=tuple(theme for theme, _ in found),
        covered=len(covered),
        has_themes=base.has_themes,
    )


# -- words and terms ----------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+")
_LINK = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_ENDINGS = ("ing", "ed", "es", "en", "er", "e", "s")


def language_of(locale: str, words: Sequence[str]) -> str:
    """The language whose stop words to drop: the locale's primary subtag, unless the
    words hold more stop words of another language we know ('' when none is known)."""
    primary = _primary(locale)
    distinct = set(words)
    hits = {lang: len(distinct & stops) for lang, stops in STOP_WORDS.items()}
    best = max(sorted(hits), key=lambda lang: hits[lang])
    if primary in hits and hits[primary] >= hits[best]:
        return primary
    return best if hits[best] > 0 else ""


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light stem that joins a word's spellings: accents folded, one plural or verb
    ending off when at least four letters remain ("exports", "exporting" → "export")."""
    folded = "".join(
        char for char in unicodedata.normalize("NFKD", word) if not unicodedata.combining(char)
    )
    for ending in _ENDINGS:
        if folded.endswith(ending) and len(folded) - len(ending) >= 4:
            return folded[: -len(ending)]
    return folded


def terms_of(text: str, locale: str) -> dict[str, str]:
    """Term -> how it is spelled in `text` (its first spelling): stems of the words that
    are not stop words, and pairs of such words next to each other (only blanks
    between them, so a keyword made of them matches the text)."""
    return _read(text, locale)[1]


def _read(text: str, locale: str) -> tuple[str, dict[str, str]]:
    """`text`'s language ('' when unknown) and its terms (`terms_of`)."""
    cleaned = EMAIL_IN_TEXT.sub(" . ", text) if "@" in text else text
    if "://" in cleaned or "www." in cleaned.casefold():
        cleaned = _LINK.sub(" . ", cleaned)
    words: list[tuple[str, bool]] = []  # (case-folded word, only blanks before it)
    end = 0
    for match in _WORD.finditer(cleaned):
        gap = cleaned[end : match.start()]
        words.append((match.group().casefold(), bool(gap) and gap.isspace()))
        end = match.end()
    language = language_of(locale, [w for w, _ in words])
    stops = STOP_WORDS.get(language, ANY_STOP_WORD)
    found: dict[str, str] = {}
    previous: str | None = None
    for word, joined in words:
        if len(word) < 2 or word in stops:
            previous = None
            continue
        found.setdefault(stem(word), word)
        if previous is not None and joined:
            found.setdefault(f"{stem(previous)} {stem(word)}", f"{previous} {word}")
        previous = word
    return language, found


def _answer_terms(texts: Sequence[TextAnswer]) -> dict[str, str]:
    found: dict[str, str] = {}
    for answer in texts:
        for term, spelling in terms_of(answer.text, answer.locale).items():
            found.setdefault(term, spelling)
    return found


def _primary(locale: str) -> str:
    return locale.replace("_", "-").split("-")[0].casefold()


@dataclass(slots=True)
class _TermIndex:
    """The untagged answers' terms: which answers hold each, how each is spelled, and
    each distinctive term's score."""

    docs: dict[str, set[int]]
    spellings: dict[str, Counter[str]]
    #: Distinctive terms -> (document frequency among untagged, tagged).
    frequency: dict[str, tuple[int, int]]
    total: int
    #: Untagged answer -> its texts case-folded (a cheap test before the matcher).
    folded: dict[int, str]
    #: Untagged answer -> the languages of its texts.
    languages: dict[int, frozenset[str]]

    @classmethod
    def build(
        cls, untagged: Mapping[int, Sequence[TextAnswer]], tagged_terms: Counter[str], tagged: int
    ) -> _TermIndex:
        docs: dict[str, set[int]] = {}
        spellings: dict[str, Counter[str]] = {}
        folded: dict[int, str] = {}
        languages: dict[int, frozenset[str]] = {}
        for response_id, texts in untagged.items():
            folded[response_id] = "\n".join(answer.text.casefold() for answer in texts)
            found = set()
            for answer in texts:
                language, terms = _read(answer.text, answer.locale)
                found.add(language or _primary(answer.locale))
                for term, spelling in terms.items():
                    docs.setdefault(term, set()).add(response_id)
                    spellings.setdefault(term, Counter())[spelling] += 1
            languages[response_id] = frozenset(found)
        n_untagged = len(untagged)
        frequency: dict[str, tuple[int, int]] = {}
        for term in sorted(docs):
            df_u, df_t = len(docs[term]), tagged_terms.get(term, 0)
            more_common = tagged == 0 or df_u / n_untagged > df_t / tagged
            if df_u >= 2 and more_common:
                frequency[term] = (df_u, df_t)
        in_phrases: dict[str, set[int]] = {}
        for phrase in [t for t in frequency if " " in t]:
            for word in phrase.split(" "):
                in_phrases.setdefault(word, set()).update(docs[phrase])
        for word, phrase_docs in sorted(in_phrases.items()):
            if word in frequency and len(phrase_docs) >= PHRASE_SHARE * len(docs[word]):
                del frequency[word]
        return cls(docs, spellings, frequency, n_untagged + tagged, folded, languages)

    def matching(
        self, keywords: Sequence[str], untagged: Mapping[int, Sequence[TextAnswer]]
    ) -> set[int]:
        """The untagged answers `keywords` match as a theme of the survey would."""
        firsts = {keyword.casefold().split()[0] for keyword in keywords}
        matcher = compile_themes({"group": list(keywords)})
        return {
            response_id
            for response_id, folded in self.folded.items()
            if any(first in folded for first in firsts)
            and any(matcher.themes_of(answer.text) for answer in untagged[response_id])
        }

    def score(self, term: str, df: int) -> float:
        """TF-IDF of `term` with `df` answers: df × log(all answers / answers holding it)."""
        df_u, df_t = self.frequency[term]
        return df * math.log((self.total + 1) / (df_u + df_t + 1))


def _groups(
    index: _TermIndex, untagged: Mapping[int, Sequence[TextAnswer]], min_n: int, taken: set[str]
) -> list[tuple[SuggestedTheme, set[int]]]:
    covered: set[int] = set()
    tried: set[str] = set()
    used: set[str] = set()
    found: list[tuple[SuggestedTheme, set[int]]] = []
    seed_floor = max(2, math.ceil(min_n / 2))
    while len(found) < MAX_THEMES:
        seeds = [
            (index.score(term, fresh), term)
            for term in index.frequency
            if term not in tried
            and term not in used
            and (fresh := len(index.docs[term] - covered)) >= seed_floor
        ]
        if not seeds:
            break
        _, seed = max(seeds, key=lambda item: (item[0], _reverse(item[1])))
        tried.add(seed)
        members = _grow(index, seed, used, seed_floor)
        keywords = _keywords(index, members)
        docs = index.matching(keywords, untagged)
        fresh = len(docs - covered)
        if len(docs) < min_n or fresh < max(2, len(docs) // 2):
            continue
        theme_id = _unique_id(keywords[0], taken)
        taken.add(theme_id)
        used.update(members)
        covered |= docs
        theme = SuggestedTheme(
            id=theme_id,
            keywords=tuple(keywords),
            count=len(docs),
            share=len(docs) / len(untagged),
            languages=tuple(sorted(frozenset().union(*(index.languages[d] for d in docs)))),
            examples=_examples(untagged, docs, keywords),
        )
        found.append((theme, docs))
    return found


def _reverse(term: str) -> tuple[int, ...]:
    """Sorts terms so that `max` picks the alphabetically first of equal scores."""
    return tuple(-ord(char) for char in term)


def _grow(index: _TermIndex, seed: str, used: set[str], shared: int) -> list[str]:
    """The seed, then terms that share at least `shared` answers with the group, most of
    their answers, and bring answers it lacks (the one bringing most in first; ties:
    higher score, then alphabetical)."""
    members = [seed]
    group = set(index.docs[seed])
    while len(members) < MAX_TERMS:
        best: tuple[int, float, tuple[int, ...]] | None = None
        best_term = ""
        for term in index.frequency:
            if term in members or term in used:
                continue
            docs = index.docs[term]
            inside = len(docs & group)
            new = len(docs) - inside
            if inside < shared or new < 1 or inside < JOIN_SHARE * len(docs):
                continue
            rank = (new, index.score(term, len(docs)), _reverse(term))
            if best is None or rank > best:
                best, best_term = rank, term
        if best is None:
            break
        members.append(best_term)
        group |= index.docs[best_term]
    return members


def _keywords(index: _TermIndex, members: Sequence[str]) -> list[str]:
    """Each member's spellings, most common first (then alphabetical), each once."""
    keywords: list[str] = []
    for term in members:
        spellings = sorted(index.spellings[term].items(), key=lambda item: (-item[1], item[0]))
        for spelling, _ in spellings[:MAX_SPELLINGS]:
            if spelling not in keywords:
                keywords.append(spelling)
    return keywords


def _unique_id(keyword: str, taken: set[str]) -> str:
    """An id in [a-z0-9-] from the keyword (accents folded), not one already taken."""
    folded = unicodedata.normalize("NFKD", keyword).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", folded.casefold()).strip("-") or "theme"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def _examples(
    untagged: Mapping[int, Sequence[TextAnswer]], docs: set[int], keywords: Sequence[str]
) -> tuple[str, ...]:
    """Up to `EXAMPLES` quotes: answers saying most of the group's keywords first, then
    the latest; the texts of an answer that match, redacted like the report's quotes;
    never the same quote twice."""
    per_keyword = [compile_themes({"k": [keyword]}) for keyword in keywords]
    group = compile_themes({"group": list(keywords)})
    ranked = []
    for response_id in docs:
        texts = [a.text for a in untagged[response_id] if group.themes_of(a.text)]
        joined = " / ".join(texts)
        hits = sum(1 for matcher in per_keyword if matcher.themes_of(joined))
        ranked.append((-hits, -response_id, redact(joined)))
    examples: list[str] = []
    seen: set[str] = set()
    for _, _, quote in sorted(ranked):
        key = " ".join(quote.casefold().split())
        if key not in seen:
            seen.add(key)
            examples.append(quote)
        if len(examples) == EXAMPLES:
            break
    return tuple(examples)
