"""What a report reads from the store, in a few aggregate queries.

The counts (invitations, response statuses, answers by wave × segment × value) are
GROUP BYs run by the database, so a million answers come back as a few hundred
rows. Only text answers (for themes) and the follow-up tasks of detractors come
back row by row. Suspect answers (honeypot, too fast) are counted apart and
left out of everything else.

Just over 400 lines: one coherent thing, every query a report makes.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, false, func, null, or_, select
from sqlalchemy.engine import Connection

from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.models import Response, Send, Task, Wave
from cxops.store.snapshot import shared_snapshot

#: Question types counted by value; `text` answers are read as rows (themes).
COUNTED_TYPES = frozenset({"nps", "csat", "ces", "rating", "single", "multi"})
#: Above this many counted questions, each gets its own GROUP BY (combinations grow).
_JOINT_LIMIT = 3

Cell = tuple[str, str]  # (wave, segment)


class Comment(NamedTuple):
    """One text answer, with what themes need to weigh it (a tuple: there are many)."""

    response_id: int
    wave: str
    segment: str
    contact_key: str
    question: str
    text: str
    #: The answer to the survey's main question (None without one).
    score: int | None
    #: The contact's revenue column at invitation time (None when not configured or absent).
    revenue: float | None


class LoopCase(NamedTuple):
    """A follow-up task about an answer (a tuple: one per task, there are many)."""

    task_status: str
    outcome: str | None
    wave: str
    contact_key: str
    score: int | None
    segment: str = ""
    #: when the task was due (aware UTC; None: unknown).
    due_at: datetime | None = None


@dataclass(slots=True)
class SurveyData:
    """Everything a report is computed from (plain data; the report functions are pure)."""

    waves: list[str]
    invited: Counter[Cell] = field(default_factory=Counter)
    #: (wave, segment, status) -> responses not suspect.
    statuses: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: (wave, suspect reason) -> responses left out.
    suspect: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: question id -> (wave, segment) -> value -> count (multi: each chosen option).
    tallies: dict[str, dict[Cell, Counter[Any]]] = field(default_factory=dict)
    #: question id -> (wave, segment) -> how many answered it (multi: people, not options).
    answered: dict[str, Counter[Cell]] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    loop: list[LoopCase] = field(default_factory=list)
    #: (contact_key, wave) -> main score, for every contact with a task (their next answer).
    later_scores: dict[tuple[str, str], int | None] = field(default_factory=dict)
    #: (contact_key, wave) -> the outcome column (`report.outcome`) in that wave's ledger
    #: snapshot, for every contact with a task who was invited to the wave.
    wave_outcomes: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: wave -> when its first invitation went out (aware UTC); shown beside the wave id,
    #: which is the schedule's slot; with `started`, what puts a wave in a period.
    first_sent: dict[str, datetime] = field(default_factory=dict)
    #: wave -> when it started (aware UTC).
    started: dict[str, datetime] = field(default_factory=dict)

    def canonical(self) -> str:
        """The inputs as canonical JSON text: what the provenance hash is taken over."""

        def counter(items: Iterable[tuple[Any, int]]) -> list[Any]:
            return sorted(([*_as_list(key), count] for key, count in items), key=repr)

        document = {
            "waves": self.waves,
            "invited": counter(self.invited.items()),
            "statuses": counter(self.statuses.items()),
            "suspect": counter(self.suspect.items()),
            "tallies": {
                qid: counter(
                    ((*cell, value), count)
                    for cell, values in cells.items()
                    for value, count in values.items()
                )
                for qid, cells in sorted(self.tallies.items())
            },
            "answered": {qid: counter(c.items()) for qid, c in sorted(self.answered.items())},
            # Rows come in id order (the queries ORDER BY id): no sort needed.
            "comments": self.comments,
            "loop": [
                [c.wave, c.contact_key, c.task_status, c.outcome, c.score, c.segment, c.due_at]
                for c in self.loop
            ],
            "later": [[*key, value] for key, value in self.later_scores.items()],
        }
        if self.wave_outcomes:  # only when the survey names an outcome column
            document["wave_outcomes"] = sorted(
                ([*key, value] for key, value in self.wave_outcomes.items()), key=repr
            )
        return json.dumps(document, sort_keys=True, ensure_ascii=False, default=str)


def _as_list(key: Any) -> list[Any]:
    return list(key) if isinstance(key, tuple) else [key]


_responses = Response.__table__
_sends = Send.__table__
_tasks = Task.__table__
_waves = Wave.__table__


def load_survey_data(
    store: Store,
    survey: Survey,
    then: Callable[[Connection, SurveyData], None] | None = None,
) -> SurveyData:
    """Read everything the report of `survey` needs, from one snapshot of the store;
    `then(conn, counts)` reads more from the same snapshot once the counts are in.

    The counting GROUP BYs and the row-by-row reads (comments, the next answers of
    contacts with tasks) are independent scans of every answer: they run at once on
    two connections that share one snapshot (`cxops.store.snapshot`), one after the other
    when the store cannot give two."""
    with shared_snapshot(store, 2) as conns:
        if len(conns) == 1:
            data = _counts(conns[0], survey)
            if then is not None:
                then(conns[0], data)
            rows = _rows(conns[0], survey)
        else:
            with ThreadPoolExecutor(max_workers=1) as pool:
                reading = pool.submit(_rows, conns[1], survey)
                data = _counts(conns[0], survey)
                if then is not None:
                    then(conns[0], data)
                rows = reading.result()
    data.comments, later, outcomes_at_wave = rows
    if data.loop:  # only contacts with (not withdrawn) tasks have a loop to measure
        data.later_scores, data.wave_outcomes = later, outcomes_at_wave
    return data


def _counts(conn: Connection, survey: Survey) -> SurveyData:
    """The waves, invitations, statuses, answer tallies and follow-up cases."""
    started = wave_starts(conn, survey.id)
    data = SurveyData(waves=list(started), started=started)
    data.invited = invited_counts(conn, survey.id)
    data.first_sent = first_sends(conn, survey.id)
    counted = [q for q in survey.questions if q.type in COUNTED_TYPES]
    if len(counted) <= _JOINT_LIMIT:
        _tally(conn, survey.id, counted, data, with_status=True)
    else:
        data.statuses, data.suspect = status_counts(conn, survey.id)
        for question in counted:
            _tally(conn, survey.id, [question], data, with_status=False)
    data.loop = loop_cases(conn, survey)
    known = set(data.waves)
    extra = {cell[0] for cell in data.invited} | {key[0] for key in data.statuses}
    data.waves += sorted(extra - known)
    return data


def _rows(
    conn: Connection, survey: Survey
) -> tuple[list[Comment], dict[tuple[str, str], int | None], dict[tuple[str, str], Any]]:
    """What is read row by row: the text answers (with the main score and the revenue
    column); for contacts with follow-up tasks, their answers' main scores and, when
    the survey names an outcome column, its value in each wave's ledger snapshot.

    Two narrow queries, not one with `text OR has task`: only the text answers are
    joined to the ledger for the revenue column."""
    later = later_scores(conn, survey)
    outcome = survey.report.outcome
    outcomes_at_wave = wave_outcomes(conn, survey, outcome.column) if outcome else {}
    return comment_rows(conn, survey), later, outcomes_at_wave


def wave_starts(conn: Connection, survey_id: str) -> dict[str, datetime]:
    """The survey's waves, oldest first (by when each started), with that time (aware UTC)."""
    rows = conn.execute(
        select(_waves.c.wave_id, _waves.c.started_at)
        .where(_waves.c.survey_id == survey_id)
        .order_by(_waves.c.started_at, _waves.c.wave_id)
    ).all()
    return {
        row.wave_id: row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=UTC)
        for row in rows
    }


def first_sends(conn: Connection, survey_id: str) -> dict[str, datetime]:
    """Wave -> when its first invitation (step 0) was sent, aware UTC."""
    rows = conn.execute(
        select(_sends.c.wave_id, func.min(_sends.c.sent_at))
        .where(_sends.c.survey_id == survey_id, _sends.c.step == 0, _sends.c.status == "sent")
        .group_by(_sends.c.wave_id)
    ).all()
    return {
        wave_id: sent if sent.tzinfo else sent.replace(tzinfo=UTC)
        for wave_id, sent in rows
        if sent is not None
    }


def invited_counts(conn: Connection, survey_id: str) -> Counter[Cell]:
    """(wave, segment) -> invitations that went out (step 0, sent)."""
    rows = conn.execute(
        select(_sends.c.wave_id, _sends.c.segment, func.count())
        .where(_sends.c.survey_id == survey_id, _sends.c.step == 0, _sends.c.status == "sent")
        .group_by(_sends.c.wave_id, _sends.c.segment)
    ).all()
    return Counter({(wave, segment): count for wave, segment, count in rows})


def status_counts(
    conn: Connection, survey_id: str
) -> tuple[Counter[tuple[str, str, str]], Counter[tuple[str, str]]]:
    """Confirmed responses by (wave, segment, status) when not suspect; suspect ones by
    (wave, reason). A provisional one-click score (no person confirmed it) counts nowhere."""
    r = _responses.c
    rows = conn.execute(
        select(r.wave_id, r.segment, r.status, r.suspect, r.suspect_reason, func.count())
        .where(r.survey_id == survey_id, r.confirmed_at.is_not(None))
        .group_by(r.wave_id, r.segment, r.status, r.suspect, r.suspect_reason)
    ).all()
    statuses: Counter[tuple[str, str, str]] = Counter()
    suspect: Counter[tuple[str, str]] = Counter()
    for wave, segment, status, is_suspect, reason, count in rows:
        if is_suspect:
            suspect[(wave, reason or "suspect")] += count
        else:
            statuses[(wave, segment, status)] += count
    return statuses, suspect


def answer_value(question_id: str, dialect: str) -> ColumnElement[Any]:
    """The stored answer to one question as SQL: on SQLite `json_extract` (typed: scores
    come back as integers, lists as JSON text), on PostgreSQL `->>` (text)."""
    answers = _responses.c.answers
    if dialect == "sqlite":
        extracted: ColumnElement[Any] = func.json_extract(answers, f'$."{question_id}"')
        return extracted
    value: ColumnElement[Any] = answers[question_id].as_string()
    return value


def _tally(
    conn: Connection,
    survey_id: str,
    questions: Sequence[Any],
    data: SurveyData,
    *,
    with_status: bool,
    cut: str | None = None,
) -> None:
    """Answers by (wave, segment, value) of `questions` in one GROUP BY; `with_status`:
    also by status and suspect reason, which then fills `statuses` and `suspect` too
    (one scan of the responses for both). `cut`: a contact column (as the ledger kept
    it) in place of the segment."""
    r = _responses.c
    values = [answer_value(q.id, conn.dialect.name).label(f"v{i}") for i, q in enumerate(questions)]
    segment: Any = r.segment if cut is None else ledger_column(cut).label("cut")
    keys: list[Any] = [r.wave_id, segment]
    if with_status:
        keys += [r.status, r.suspect, r.suspect_reason]
    query = select(*keys, *values, func.count()).where(
        r.survey_id == survey_id, r.confirmed_at.is_not(None)
    )
    if cut is not None:
        query = query.select_from(_responses.outerjoin(_sends, _sends.c.send_id == r.send_id))
    if not with_status:
        query = query.where(r.suspect.is_(false()))
    rows = conn.execute(query.group_by(*keys, *values)).all()
    for question in questions:
        data.tallies.setdefault(question.id, defaultdict(Counter))
        data.answered.setdefault(question.id, Counter())
    first = len(keys)
    for row in rows:
        cell = (row[0], row[1] if cut is None else cut_value(row[1]))
        count = row[-1]
        if with_status:
            if row[3]:
                data.suspect[(row[0], row[4] or "suspect")] += count
                continue
            data.statuses[(*cell, row[2])] += count
        for index, question in enumerate(questions):
            value = parse_value(row[first + index])
            if value is None:
                continue
            data.answered[question.id][cell] += count
            chosen = value if isinstance(value, list) else [value]
            for item in chosen:
                data.tallies[question.id][cell][item] += count


#: The cut value of a contact whose ledger row has no value in the column.
NO_VALUE = "(none)"


def ledger_column(column: str) -> ColumnElement[Any]:
    """A contact column as the send ledger kept it (JSON: text, number or bool)."""
    value: ColumnElement[Any] = _sends.c.contact[column].as_string()
    return value


def cut_value(raw: Any) -> str:
    """A cut's value as shown: its text (`(none)` when absent or empty)."""
    if raw is None or str(raw).strip() == "":
        return NO_VALUE
    return str(raw).strip()


def cut_counts(conn: Connection, survey: Survey, column: str, base: SurveyData) -> SurveyData:
    """The counts of `base` with the contact column `column` in place of the segment."""
    data = SurveyData(waves=list(base.waves), started=base.started, first_sent=base.first_sent)
    s = _sends.c
    value = ledger_column(column)
    rows = conn.execute(
        select(s.wave_id, value, func.count())
        .where(s.survey_id == survey.id, s.step == 0, s.status == "sent")
        .group_by(s.wave_id, value)
    ).all()
    for wave, value, count in rows:
        data.invited[(wave, cut_value(value))] += count
    counted = [q for q in survey.questions if q.type in COUNTED_TYPES]
    if counted:
        _tally(conn, survey.id, counted, data, with_status=True, cut=column)
    return data


def parse_value(raw: Any) -> Any:
    """A stored answer as read back: ints for scores, text for options, lists for multi."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return int(raw) if float(raw).is_integer() else raw
    text = str(raw)
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return text
        return items if isinstance(items, list) and items else None
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    return text


def _score(raw: Any) -> int | None:
    if type(raw) is int:
        return raw
    value = parse_value(raw)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _row_by_row(survey_id: str) -> list[ColumnElement[bool]]:
    r = _responses.c
    return [r.survey_id == survey_id, r.confirmed_at.is_not(None), r.suspect.is_(false())]


def comment_rows(conn: Connection, survey: Survey) -> list[Comment]:
    """Every non-empty text answer, in id order, with the main score and the revenue column."""
    texts = [q.id for q in survey.questions if q.type == "text"]
    if not texts:
        return []
    main = survey.main_question
    r, s = _responses.c, _sends.c
    score = answer_value(main.id, conn.dialect.name) if main is not None else null()
    text_columns = [answer_value(qid, conn.dialect.name) for qid in texts]
    revenue_column = survey.report.revenue
    revenue = s.contact[revenue_column].as_string() if revenue_column else null()
    source: Any = _responses
    if revenue_column:
        source = _responses.outerjoin(_sends, s.send_id == r.send_id)
    query = (
        select(r.id, r.wave_id, r.segment, r.contact_key, score, revenue, *text_columns)
        .select_from(source)
        .where(*_row_by_row(survey.id), or_(*(text.is_not(None) for text in text_columns)))
        .order_by(r.id)
    )
    found: list[Comment] = []
    for row in conn.execute(query):
        main_score = _score(row[4])
        revenue_value = _number(row[5])
        for question_id, body in zip(texts, row[6:], strict=True):
            if body is None:
                continue
            body = str(body).strip()
            if body:
                found.append(
                    Comment(
                        row[0], row[1], row[2], row[3], question_id, body, main_score, revenue_value
                    )
                )
    return found


def later_scores(conn: Connection, survey: Survey) -> dict[tuple[str, str], int | None]:
    """(contact_key, wave) -> main score of every answer of a contact who has a follow-up task
    (in id order: a later answer of the same contact and wave wins).

    Looked up per task contact through `ix_responses_contact_survey` (migration 0010), not
    by testing each of the survey's answers against the task contacts."""
    main = survey.main_question
    if main is None:
        return {}
    r, t = _responses.c, _tasks.c
    score = answer_value(main.id, conn.dialect.name)
    keys = select(t.contact_key).where(t.survey_id == survey.id)
    of_survey, *rest = _row_by_row(survey.id)
    if conn.dialect.name == "sqlite":
        # Without statistics (no ANALYZE) SQLite takes the survey's index for any
        # equality on it; `likely` says it selects most rows, so the contact index wins.
        of_survey = func.likely(of_survey)
    query = (
        select(r.contact_key, r.wave_id, score)
        .where(of_survey, *rest, r.contact_key.in_(keys))
        .order_by(r.id)
    )
    return {(row[0], row[1]): _score(row[2]) for row in conn.execute(query)}


def wave_outcomes(conn: Connection, survey: Survey, column: str) -> dict[tuple[str, str], Any]:
    """(contact_key, wave) -> the outcome column as the ledger kept it when the contact was
    invited to that wave, for every contact with a follow-up task (the ledger keeps the
    column: `wave.minimise` keeps every `report` column).

    This is what says whether a detractor had churned *by the next wave*, rather than
    by the time the report is read. Looked up through the ledger's unique index
    (survey, wave, contact, step)."""
    s, t = _sends.c, _tasks.c
    value = s.contact[column]  # JSON-typed: comes back as stored (bool, number, text)
    keys = select(t.contact_key).where(t.survey_id == survey.id)
    rows = conn.execute(
        select(s.contact_key, s.wave_id, value).where(
            s.survey_id == survey.id, s.step == 0, s.contact_key.in_(keys)
        )
    )
    # A snapshot without the column (an older ledger row, an empty cell) tells nothing.
    return {(row[0], row[1]): row[2] for row in rows if row[2] is not None}


def _number(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def loop_cases(conn: Connection, survey: Survey) -> list[LoopCase]:
    """The survey's follow-up tasks (not withdrawn) with the main score of the answer each
    is about."""
    main = survey.main_question
    if main is None:
        return []
    r, t = _responses.c, _tasks.c
    score = answer_value(main.id, conn.dialect.name)
    rows = conn.execute(
        select(t.status, t.outcome, r.wave_id, r.contact_key, score, r.segment, t.due_at)
        .select_from(_tasks.join(_responses, r.id == t.response_id))
        .where(t.survey_id == survey.id, t.status != "withdrawn", r.suspect.is_(false()))
        .order_by(t.id)
    ).all()
    return [
        LoopCase(row[0], row[1], row[2], row[3], _score(row[4]), row[5], _aware(row[6]))
        for row in rows
    ]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
