"""The warehouse tables `cxops sync` writes: each column's type and meaning, one place.

`docs/warehouse.md` is generated from these (`warehouse_reference()`; a test keeps it
equal), and the loader builds dlt's column hints from them, so the documentation and the
tables cannot drift apart. `SCHEMA_VERSION` changes when a column changes meaning or type
or goes away; adding a column keeps it (a dbt project selecting columns by name keeps
working). A destination written under another version is refused, never mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The version of the tables below; written to each destination's sync state.
SCHEMA_VERSION = 1

ColumnType = Literal["text", "bigint", "double", "bool", "timestamp", "json"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    description: str
    #: Sent only with `sync.personal_data: true`.
    personal: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    description: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]

    def column_names(self, *, personal_data: bool) -> list[str]:
        return [c.name for c in self.columns if personal_data or not c.personal]


#: Columns every table has, for the loader's own bookkeeping (documented, not for joins).
HIDDEN = (
    Column("_cxops_row", "bigint", "The store row the warehouse row comes from (or its parent's)."),
    Column(
        "_cxops_fp", "bigint", "A fingerprint of the row's values: what the next sync compares."
    ),
    Column(
        "_cxops_deleted",
        "bool",
        "True on a row that says the key is gone (Parquet keeps it; databases delete the key).",
    ),
    Column("_cxops_synced_at", "timestamp", "When the sync that wrote this row started (UTC)."),
)

_SURVEY = Column("survey_id", "text", "The survey's id (its file's `id:`).")
_WAVE = Column("wave_id", "text", "The wave: one invitation round of the survey.")
_CONTACT = Column(
    "contact_key",
    "text",
    "The person, as the audience source keys them; `erased:…` after `cxops forget`.",
)
_SEGMENT = Column("segment", "text", "The audience segment the person was invited in.")
_LOCALE = Column("locale", "text", "The language they were invited in (`en`, `pt-BR`).")


def _ts(name: str, description: str) -> Column:
    return Column(name, "timestamp", f"{description} (UTC; empty when it did not happen).")


INVITATIONS = Table(
    "invitations",
    "One row per message of the send ledger: the invitation (step 0) and each reminder.",
    ("send_id",),
    (
        Column("send_id", "text", "The message's id in the ledger (also in its links)."),
        _SURVEY,
        _WAVE,
        Column("step", "bigint", "0 for the invitation, k for reminder k."),
        _CONTACT,
        _SEGMENT,
        _LOCALE,
        Column(
            "status",
            "text",
            "pending, sending, sent, failed, in_doubt, skipped, bounced or dropped (see "
            "docs/behaviour.md).",
        ),
        Column("channel", "text", "outbox, sendgrid or smtp; empty until sent."),
        _ts("created_at", "When it was planned into the ledger"),
        _ts("sent_at", "When the channel accepted it"),
        _ts("delivered_at", "When the provider reported delivery"),
        _ts("opened_at", "When the provider first reported an open"),
        _ts("clicked_at", "When the provider first reported a click"),
        Column("email", "text", "The address it went to.", personal=True),
        Column("name", "text", "The `name` column of the person's source row.", personal=True),
    ),
)

RESPONSES = Table(
    "responses",
    "One row per answered invitation (at most one per send), with its main score.",
    ("response_id",),
    (
        Column("response_id", "bigint", "The response's id in the store."),
        Column("send_id", "text", "The invitation it answers (`invitations.send_id`)."),
        _SURVEY,
        _WAVE,
        _CONTACT,
        _SEGMENT,
        _LOCALE,
        Column("status", "text", "partial (some answers) or complete (submitted)."),
        Column(
            "score",
            "double",
            "The answer to the survey's main question (the first question of the survey's "
            "kind: nps 0-10, csat, ces); empty when not answered or the kind has none.",
        ),
        Column("suspect", "bool", "True when the answer looks like a scanner's, not a person's."),
        Column("confirmed", "bool", "True once a person confirmed it (reports count only these)."),
        _ts("first_answered_at", "The first answer"),
        _ts("submitted_at", "The form's submit"),
        _ts("updated_at", "The last change"),
        Column("revision", "bigint", "How many times it was saved."),
    ),
)

ANSWERS = Table(
    "answers",
    "One row per answered question (long format): a new question is new rows, never a new column.",
    ("response_id", "question_id"),
    (
        Column("response_id", "bigint", "The response (`responses.response_id`)."),
        Column("question_id", "text", "The question's `id:` in the survey file."),
        _SURVEY,
        _CONTACT,
        Column(
            "question_type",
            "text",
            "The question's type in the survey version current at the sync (see `surveys`); "
            "empty when the survey no longer has it.",
        ),
        Column("value_number", "double", "The answer when it is a number (scores, scales)."),
        Column("value_text", "text", "The answer when it is text or one choice."),
        Column("value_json", "json", "The answer as stored (lists for multiple choices)."),
    ),
)

TASKS = Table(
    "tasks",
    "One row per follow-up task a rule created from a response.",
    ("task_id",),
    (
        Column("task_id", "bigint", "The task's id in the store (the number in `/t/…` links)."),
        Column("response_id", "bigint", "The response that created it."),
        _SURVEY,
        _WAVE,
        _CONTACT,
        _SEGMENT,
        Column("rule_id", "text", "The follow-up rule (`id:` or rule_N)."),
        Column("rule_version", "text", "A digest of the rule when the task was made."),
        Column("assignee", "text", "The staff member's address it is assigned to."),
        Column("priority", "text", "low, normal, high or urgent."),
        Column("status", "text", "open, closed or withdrawn."),
        Column("outcome", "text", "How it was closed (the outcome chosen on the task page)."),
        _ts("created_at", "When the rule created it"),
        _ts("due_at", "When it is due"),
        _ts("first_action_at", "The assignee's first action"),
        _ts("closed_at", "When it was closed or withdrawn"),
        _ts("snoozed_until", "The end of its snooze"),
        Column("escalation_step", "bigint", "How many escalations were sent."),
        Column("title", "text", "Its title (it may quote the person).", personal=True),
        Column("note", "text", "The notes written on it.", personal=True),
    ),
)

TASK_EVENTS = Table(
    "task_events",
    "What happened to a task, one row per event, in order.",
    ("task_id", "seq"),
    (
        Column("task_id", "bigint", "The task (`tasks.task_id`)."),
        Column("seq", "bigint", "The event's place in the task's history, from 1."),
        Column("kind", "text", "note, closed, reassigned or snoozed."),
        _ts("at", "When it happened"),
        Column("outcome", "text", "The outcome of a `closed` event."),
        Column("from_assignee", "text", "Who had the task before a `reassigned` event."),
        Column("to_assignee", "text", "Who has it after a `reassigned` event."),
        Column("until", "text", "The end of a `snoozed` event (ISO time)."),
        Column("text", "text", "The words written with it.", personal=True),
    ),
)

SUPPRESSIONS = Table(
    "suppressions",
    "Addresses never to be contacted: unsubscribes, bounces, spam reports.",
    ("suppression_id",),
    (
        Column(
            "suppression_id",
            "text",
            "A keyed hash of the address: stable across syncs, meaningless without the "
            "project's signing key.",
        ),
        Column(
            "contact_key",
            "text",
            "The contact key of the address's latest invitation; empty when never invited.",
        ),
        Column("reason", "text", "unsubscribed, spam or bounced."),
        Column("source", "text", "Where it came from (collector, sendgrid, …)."),
        _ts("created_at", "When it was recorded"),
        Column("email", "text", "The address.", personal=True),
    ),
)

SURVEYS = Table(
    "surveys",
    "Each version of each survey file a sync has seen: questions change, versions add up.",
    ("survey_id", "version"),
    (
        _SURVEY,
        Column(
            "version",
            "text",
            "A digest of the survey's kind and questions: a new one whenever they change.",
        ),
        Column("kind", "text", "nps, csat, ces, custom or interview."),
        Column("name", "text", "The survey's internal name."),
        Column("questions", "json", "The questions as the survey file gives them."),
        Column(
            "commit",
            "text",
            "The git commit the survey file came from; empty outside git or when the file "
            "had uncommitted changes.",
        ),
    ),
)

TABLES: tuple[Table, ...] = (
    INVITATIONS,
    RESPONSES,
    ANSWERS,
    TASKS,
    TASK_EVENTS,
    SUPPRESSIONS,
    SURVEYS,
)
BY_NAME = {table.name: table for table in TABLES}


def warehouse_reference() -> str:
    """docs/warehouse.md's tables section (a test keeps the file equal to it)."""
    parts = [f"Schema version: **{SCHEMA_VERSION}**.\n"]
    for table in TABLES:
        rows = [
            f"### `{table.name}`",
            "",
            table.description,
            "",
            f"Key: {', '.join(f'`{name}`' for name in table.primary_key)}.",
            "",
            "| column | type | what it is |",
            "| --- | --- | --- |",
        ]
        for column in table.columns:
            note = " Only with `sync.personal_data: true`." if column.personal else ""
            description = f"{column.description}{note}".replace("|", "\\|")
            rows.append(f"| `{column.name}` | {column.type} | {description} |")
        parts.append("\n".join(rows) + "\n")
    hidden = [
        "### Columns of every table",
        "",
        "| column | type | what it is |",
        "| --- | --- | --- |",
    ]
    hidden += [f"| `{c.name}` | {c.type} | {c.description} |" for c in HIDDEN]
    parts.append("\n".join(hidden) + "\n")
    return "\n".join(parts)
