"""Checks that span fields or need files, run on a survey that passed its model.

Just over 400 lines: one check per section of the survey, run in file order.

Each check returns `Problem`s located through the YAML marks: names used in
expressions against what each field may see, `contact.X` against the source's
columns, `answers.X` against question ids, templates for every locale, sampling
and follow-up columns, assignability, unique ids.
"""

from __future__ import annotations

import csv
import difflib
import importlib.util
import re
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path

from cxops.errors import Problem
from cxops.expr import HELPER_NAMES, references
from cxops.locales import DEFAULT_LOCALE, locale_chain
from cxops.spec.models import EMAIL_RE, CsvSource, Invitation, ParquetSource, Survey
from cxops.spec.trigger import EventSource, trigger_problems
from cxops.spec.variant_checks import variant_problems
from cxops.spec.yaml_marks import KeyPath, MarkedDocument
from cxops.template_files import (
    EMAIL_PARTS,
    find_template_file,
    template_file_name,
    template_search_path,
)

#: What each kind of field may name at the top level (besides the helpers).
AUDIENCE_NAMES = frozenset({"contact", "survey"})
TEXT_NAMES = frozenset({"contact", "survey"})
FOLLOWUP_NAMES = frozenset({"contact", "segment", "answers", "category", "survey"})
INTERVIEW_ANSWERS = ("accepted", "consent")
#: An interview's `screen:` sees the answers only (the screener questions).
SCREEN_NAMES = frozenset({"answers"})
_SURVEY_ATTRIBUTES = frozenset(Survey.model_fields) | frozenset(
    name for name, value in vars(Survey).items() if isinstance(value, property)
)


def check_survey(survey: Survey, document: MarkedDocument, project_dir: Path) -> list[Problem]:
    """Every cross-field and file problem of a survey that passed its model."""
    columns = source_columns(survey, project_dir)
    problems = list(_question_ids(survey, document))
    problems += _source_header(survey, document, project_dir)
    if survey.trigger is not None:
        problems += trigger_problems(survey.trigger, survey.audience.source.columns, document)
    problems += _expressions(survey, document, columns)
    problems += _templates(survey, document, project_dir)
    problems += _sample(survey, document, columns)
    problems += _quota(survey, document)
    problems += _followups(survey, document, columns)
    problems += _themes(survey, document)
    problems += _report(survey, document, columns)
    problems += _reminder(survey, document)
    problems += variant_problems(survey.invitation, document)
    return problems


def duplicate_id_problems(documents: Sequence[MarkedDocument]) -> list[Problem]:
    """A survey id used by an earlier file is an error on the later file's `id` line."""
    first: dict[str, Path] = {}
    problems = []
    for document in documents:
        survey_id = document.value_at(("id",)) if document.parsed else None
        if not isinstance(survey_id, str):
            continue
        if survey_id in first:
            problems.append(
                document.problem(
                    ("id",),
                    f"expected a survey id unique across files, found {survey_id!r} "
                    f"already used in {first[survey_id]}",
                )
            )
        else:
            first[survey_id] = document.path
    return problems


# -- source columns ---------------------------------------------------------------------


def source_columns(survey: Survey, project_dir: Path) -> frozenset[str] | None:
    """Every column a contact has, or None when the source cannot be read cheaply.

    CSV: the header line only (BOM and delimiter sniffed). Parquet: the file's
    schema when pyarrow is installed. SQL: never (validation opens no database).
    """
    source = survey.audience.source
    header: list[str] | None = None
    if isinstance(source, EventSource) and survey.trigger is not None:
        header = list(survey.trigger.contact)
    elif isinstance(source, CsvSource):
        header = csv_header(_resolve(source.csv, project_dir))
    elif isinstance(source, ParquetSource):
        header = _parquet_columns(_resolve(source.parquet, project_dir))
    if header is None:
        return None
    return frozenset(header) | frozenset(source.columns) | {source.key, source.email}


def _source_header(
    survey: Survey, document: MarkedDocument, project_dir: Path
) -> Iterator[Problem]:
    """A file source whose header lacks the key, email or a declared column cannot work."""
    source = survey.audience.source
    if isinstance(source, CsvSource):
        header = csv_header(_resolve(source.csv, project_dir))
    elif isinstance(source, ParquetSource):
        header = _parquet_columns(_resolve(source.parquet, project_dir))
    else:
        return
    if header is None:
        return
    present = set(header)
    roles: list[tuple[KeyPath, str, str]] = [
        (("audience", "source", "key"), source.key, "key"),
        (("audience", "source", "email"), source.email, "email"),
    ]
    roles += [(("audience", "source", "columns", name), name, "typed") for name in source.columns]
    for key_path, column, role in roles:
        if column in present:
            continue
        if not document.has(key_path):
            key_path = ("audience", "source")
        close = difflib.get_close_matches(column, header, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        found = ", ".join(repr(name) for name in header) or "none"
        yield document.problem(
            key_path,
            f"expected the source to have the {role} column {column!r}{hint}; found {found}",
        )


def _declared_columns(survey: Survey) -> frozenset[str]:
    source = survey.audience.source
    return frozenset(source.columns) | {source.key, source.email}


def _resolve(path: str, project_dir: Path) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else project_dir / candidate


def csv_header(path: Path) -> list[str] | None:
    """The column names on the first line of a CSV file, or None when unreadable."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            line = handle.readline(1 << 16)
    except (OSError, UnicodeDecodeError):
        return None
    if not line.strip():
        return None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(line, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    row = next(csv.reader([line], dialect), [])
    return [name.strip() for name in row if name.strip()]


def _parquet_columns(path: Path) -> list[str] | None:
    if not path.is_file() or importlib.util.find_spec("pyarrow") is None:
        return None
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (OSError, ValueError):
        return None


# -- questions and expressions -----------------------------------------------------------


def _question_ids(survey: Survey, document: MarkedDocument) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for index, question in enumerate(survey.questions):
        if question.id in first:
            line, _ = document.position(("questions", first[question.id], "id"))
            yield document.problem(
                ("questions", index, "id"),
                f"expected question ids unique in the survey, found {question.id!r} again "
                f"(first on line {line})",
            )
        else:
            first[question.id] = index
    rule_ids: dict[str, int] = {}
    for index, rule in enumerate(survey.followup):
        if rule.id is None:
            continue
        if rule.id in rule_ids:
            yield document.problem(
                ("followup", index, "id"),
                f"expected follow-up rule ids unique in the survey, found {rule.id!r} again",
            )
        rule_ids.setdefault(rule.id, index)


def _answer_ids(survey: Survey) -> list[str]:
    ids = [question.id for question in survey.questions]
    if survey.kind == "interview":
        ids = [*INTERVIEW_ANSWERS, *ids]
    return list(dict.fromkeys(ids))


def _expression_fields(survey: Survey) -> Iterator[tuple[KeyPath, str, bool, frozenset[str]]]:
    """(key path, source, is an expression, allowed top-level names) of every expression."""
    audience = survey.audience
    if audience.filter is not None:
        yield ("audience", "filter"), audience.filter, True, AUDIENCE_NAMES
    for name, expression in audience.segments.items():
        yield ("audience", "segments", name), expression, True, AUDIENCE_NAMES
    for index, question in enumerate(survey.questions):
        text = question.text
        if isinstance(text, str):
            yield ("questions", index, "text"), text, False, TEXT_NAMES
        else:  # one text per locale
            for locale, localized in text.items():
                yield ("questions", index, "text", locale), localized, False, TEXT_NAMES
    if survey.invitation.subject is not None:
        yield ("invitation", "subject"), survey.invitation.subject, False, TEXT_NAMES
    window = survey.invitation.send_window
    if window is not None and window.expression is not None:
        yield ("invitation", "send_window", "timezone"), window.expression, True, AUDIENCE_NAMES
    for index, variant in enumerate(survey.invitation.variants):
        at: KeyPath = ("invitation", "variants", index)
        if variant.subject is not None:
            yield (*at, "subject"), variant.subject, False, TEXT_NAMES
        window = variant.send_window
        if window is not None and window.expression is not None:
            yield (*at, "send_window", "timezone"), window.expression, True, AUDIENCE_NAMES
    if survey.interview is not None and survey.interview.screen is not None:
        yield ("interview", "screen"), survey.interview.screen, True, SCREEN_NAMES
    for index, rule in enumerate(survey.followup):
        yield ("followup", index, "when"), rule.when, True, FOLLOWUP_NAMES
        yield ("followup", index, "task"), rule.task, False, FOLLOWUP_NAMES
        if rule.assign_to is not None:
            yield ("followup", index, "assign_to"), rule.assign_to, False, FOLLOWUP_NAMES


def _expressions(
    survey: Survey, document: MarkedDocument, columns: frozenset[str] | None
) -> Iterator[Problem]:
    answers = _answer_ids(survey)
    for key_path, source, is_expression, allowed in _expression_fields(survey):
        if not document.has(key_path):
            continue
        refs = references(source, expression=is_expression)
        visible = allowed | HELPER_NAMES | ({"loop"} if not is_expression else set())
        for name in sorted(refs.names - visible):
            yield _in_value(
                document,
                key_path,
                rf"\b{re.escape(name)}\b",
                f"unknown name '{name}'{_suggest(name, sorted(visible))}; "
                f"expected one of {', '.join(sorted(allowed))} or a helper",
            )
        for target, attribute in sorted(refs.fields):
            if target not in visible:
                continue
            known: Sequence[str] | None = None
            what = ""
            if target == "contact" and columns is not None:
                known, what = sorted(columns), "a column of the source"
            elif target == "answers":
                known, what = answers, "a question id"
            elif target == "survey":
                known, what = sorted(_SURVEY_ATTRIBUTES), "a survey field"
            if known is None or attribute in known:
                continue
            yield _in_value(
                document,
                key_path,
                rf"\b{re.escape(target)}\s*(\.\s*|\[\s*['\"]){re.escape(attribute)}\b",
                f"unknown {target} field '{attribute}'{_suggest(attribute, known)}; "
                f"expected {what}: {', '.join(known)}",
            )


def _in_value(document: MarkedDocument, key_path: KeyPath, pattern: str, message: str) -> Problem:
    """A problem at the first match of `pattern` on the value's line, else at the value."""
    problem = document.problem(key_path, message)
    line, column = problem.location.line, problem.location.column
    match = re.compile(pattern).search(problem.source_line, max(column - 1, 0))
    if match is None:
        return problem
    return document.problem_at(line, match.start() + 1, problem.key_path, message)


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- templates ---------------------------------------------------------------------------


def _templates(survey: Survey, document: MarkedDocument, project_dir: Path) -> Iterator[Problem]:
    search_path = template_search_path(project_dir)
    yield from _invitation_templates(
        survey.invitation, document, search_path, ("invitation", "template")
    )
    for index, variant in enumerate(survey.invitation.variants):
        if variant.template is not None:
            yield from _invitation_templates(
                survey.invitation.for_variant(variant.id),
                document,
                search_path,
                ("invitation", "variants", index, "template"),
            )


def _invitation_templates(
    invitation: Invitation, document: MarkedDocument, search_path: list[Path], at: KeyPath
) -> Iterator[Problem]:
    parts = [p for p in EMAIL_PARTS if not (p == "subject" and invitation.subject is not None)]
    missing_by_locale: list[tuple[int, str, list[str], list[str]]] = []
    for index, locale in enumerate(invitation.locales):
        chain = locale_chain(locale) or [DEFAULT_LOCALE]
        missing = [
            part
            for part in parts
            if not any(
                find_template_file(invitation.template, part, candidate, search_path)
                for candidate in chain
            )
        ]
        if missing:
            missing_by_locale.append((index, locale, missing, chain))
    if not missing_by_locale:
        return
    if not template_names(search_path) & {invitation.template}:
        yield _unknown_template(invitation.template, document, search_path, at)
        return
    for index, locale, missing, chain in missing_by_locale:
        key_path: KeyPath = ("invitation", "locales", index)
        if at != ("invitation", "template") or not document.has(key_path):
            key_path = at
        expected = ", ".join(template_file_name(invitation.template, p, locale) for p in missing)
        fallback = chain[1:]
        also = f" (or the {', '.join(fallback)} variant)" if fallback else ""
        yield document.problem(
            key_path,
            f"expected templates for locale '{locale}': {expected}{also} in the project's "
            "templates/ or the built-in templates, found none",
        )


def template_names(search_path: Sequence[Path]) -> set[str]:
    """The names of the email templates found (`nps_invite` of `nps_invite.de.html.j2`)."""
    names: set[str] = set()
    for folder in search_path:
        for path in folder.glob("*.j2"):
            pieces = path.name.split(".")
            if len(pieces) >= 3 and pieces[-2] in EMAIL_PARTS:
                names.add(pieces[0])
    return names


def _unknown_template(
    name: str,
    document: MarkedDocument,
    search_path: Sequence[Path],
    at: KeyPath = ("invitation", "template"),
) -> Problem:
    """One problem at `template:` when no file of any locale has the name."""
    known = sorted(template_names(search_path))
    files = ", ".join(template_file_name(name, part) for part in EMAIL_PARTS)
    return document.problem(
        at,
        f"no template named {name!r}{_suggest(name, known)}: expected {files} (and a "
        "variant per locale) in the project's templates/ or the built-in templates",
    )


# -- sampling, follow-ups, themes, reminders -------------------------------------------


def _unknown_column(
    name: str, survey: Survey, columns: frozenset[str] | None
) -> tuple[bool, Sequence[str]]:
    """(whether `name` is surely not a column, the known columns)."""
    if columns is None:
        return False, sorted(_declared_columns(survey))
    return name not in columns, sorted(columns)


def _sample(
    survey: Survey, document: MarkedDocument, columns: frozenset[str] | None
) -> Iterator[Problem]:
    sample = survey.audience.sample
    if sample is None or sample.stratify in (None, "segment"):
        return
    unknown, known = _unknown_column(sample.stratify, survey, columns)
    if unknown:
        yield document.problem(
            ("audience", "sample", "stratify"),
            f"expected 'segment' or a column of the source{_suggest(sample.stratify, known)}, "
            f"found {sample.stratify!r}",
        )


#: The segment of contacts no segment expression matched (`cxops.audience.OTHER_SEGMENT`).
_OTHER_SEGMENT = "other"
#: The survey kinds whose main question each precision quota is about.
_PRECISION_KINDS = {"nps_margin": ("nps",), "ci_width": ("csat", "ces")}


def _quota(survey: Survey, document: MarkedDocument) -> Iterator[Problem]:
    """`audience.quota` and its rounds against the sample, the segments and the kind."""
    audience = survey.audience
    sample, quota = audience.sample, audience.quota
    rounds = quota.rounds if quota is not None else None
    if rounds is None:
        # (A size or quota that failed its model is absent here, yet written.)
        written = document.has(("audience", "sample", "size")) or document.has(
            ("audience", "quota", "rounds")
        )
        if sample is not None and sample.size is None and not written:
            line, column = document.position(("audience", "sample"), at_key=True)
            yield document.problem_at(
                line,
                column,
                "audience.sample.size",
                "expected the required key 'size' (or audience.quota.rounds, to invite in "
                "rounds until the quota is met), found it missing",
            )
    elif sample is None or not document.has(("audience", "sample", "seed")):
        yield document.problem(
            ("audience", "quota", "rounds") if sample is None else ("audience", "sample"),
            "expected audience.sample with a seed (e.g. sample: {seed: 11}): the rounds invite "
            "each segment in the sample's seeded order, found no seed",
        )
    if rounds is not None and sample is not None:
        if sample.size is not None:
            yield document.problem(
                ("audience", "sample", "size"),
                "expected no size with audience.quota.rounds: the rounds decide how many are "
                f"invited, found {sample.size}",
            )
        if sample.stratify not in (None, "segment"):
            yield document.problem(
                ("audience", "sample", "stratify"),
                "expected no stratify (or 'segment') with audience.quota.rounds: each round "
                f"takes the next of every segment, found {sample.stratify!r}",
            )
    if rounds is not None and rounds.every.approx_timedelta().total_seconds() < 60:
        yield document.problem(
            ("audience", "quota", "rounds", "every"),
            f"expected rounds at least 1m apart, found {rounds.every}",
        )
    if quota is None:
        return
    known = [*audience.segments, _OTHER_SEGMENT]
    for name in quota.by_segment:
        if name not in known:
            yield document.problem(
                ("audience", "quota", name),
                f"expected a segment of audience.segments or {_OTHER_SEGMENT!r} (the contacts "
                f"no segment matched){_suggest(name, known)}, found {name!r}",
                at_key=True,
            )
    target = quota.target
    kinds = _PRECISION_KINDS.get(target)
    if kinds is not None and survey.kind not in kinds:
        other = "ci_width" if target == "nps_margin" else "nps_margin"
        instead = f"{other} or " if survey.kind in _PRECISION_KINDS[other] else ""
        yield document.problem(
            ("audience", "quota", target),
            f"expected a survey of kind {' or '.join(map(repr, kinds))} for {target} (the "
            f"interval of its main question), found kind {survey.kind!r}; use {instead}a "
            "number of answers",
        )


def _followups(
    survey: Survey, document: MarkedDocument, columns: frozenset[str] | None
) -> Iterator[Problem]:
    for index, rule in enumerate(survey.followup):
        if rule.assign_to is None and rule.fallback is None and survey.owner is None:
            yield document.problem(
                ("followup", index),
                "expected 'assign_to', 'fallback' or a survey 'owner', found none: "
                "nobody would get this task",
            )
        assign_to = rule.assign_to
        if assign_to and not _is_template(assign_to) and not EMAIL_RE.match(assign_to.strip()):
            yield document.problem(
                ("followup", index, "assign_to"),
                f"expected an email address or a {{{{ template }}}}, found {assign_to!r}",
            )
        for position, name in enumerate(rule.context):
            unknown, known = _unknown_column(name, survey, columns)
            if unknown:
                yield document.problem(
                    ("followup", index, "context", position),
                    f"expected a column of the source{_suggest(name, known)}, found {name!r}",
                )


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def _themes(survey: Survey, document: MarkedDocument) -> Iterator[Problem]:
    for theme, keywords in survey.themes.items():
        path: tuple[Hashable, ...] = ("themes", theme)
        if not keywords:
            yield document.problem(path, "expected at least one keyword, found an empty list")
        for position, keyword in enumerate(keywords):
            if not keyword.strip():
                yield document.problem((*path, position), "expected a keyword, found empty text")


def _report(
    survey: Survey, document: MarkedDocument, columns: frozenset[str] | None
) -> Iterator[Problem]:
    """`report.revenue` and `report.outcome.column` name columns of the source."""
    report = survey.report
    named: list[tuple[tuple[Hashable, ...], str]] = []
    if report.revenue:
        named.append((("report", "revenue"), report.revenue))
    if report.outcome is not None:
        named.append((("report", "outcome", "column"), report.outcome.column))
    for path, name in named:
        unknown, known = _unknown_column(name, survey, columns)
        if unknown:
            yield document.problem(
                path, f"expected a column of the source{_suggest(name, known)}, found {name!r}"
            )


def _reminder(survey: Survey, document: MarkedDocument) -> Iterator[Problem]:
    invitation = survey.invitation
    reminder = invitation.reminder
    if reminder is None:
        return
    if reminder.after.approx_timedelta() >= invitation.expires_after.approx_timedelta():
        yield document.problem(
            ("invitation", "reminder", "after"),
            f"expected a reminder before the invitation expires ({invitation.expires_after}), "
            f"found {reminder.after}",
        )
