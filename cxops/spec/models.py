"""The survey file as frozen pydantic models. Unknown keys are errors.

Field validators check each value on its own (durations, cron, time zones,
expression syntax); `cxops.spec.checks` checks what spans fields or needs files
(expression names against source columns, templates, answer references).

Over 400 lines on purpose: it is the whole survey format, one model per section of the
file, read top to bottom like the format itself (and `cxops schema` is generated from it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from cxops.durations import Duration, DurationSyntaxError, parse_duration
from cxops.spec.cron import cron_problem
from cxops.spec.report import ReportSettings
from cxops.spec.send_window import SendWindow
from cxops.spec.trigger import EventSource, Trigger
from cxops.timezones import time_zone

SLUG = r"^[a-z0-9][a-z0-9-]*$"
IDENT = r"^[a-z_][a-z0-9_]*$"
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
LOCALE_RE = re.compile(r"^[a-z]{2,3}(-[A-Z][A-Za-z]{1,3}|-[0-9]{3})?$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _parse_duration_value(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"expected a duration like '90d' or '2 business days', found {value!r}")
    try:
        return parse_duration(value)
    except DurationSyntaxError as exc:
        raise ValueError(str(exc)) from None


DurationField = Annotated[
    Duration,
    PlainValidator(_parse_duration_value),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*\d+\s*([smhdw]|\s*business\s+days?)\s*$",
            "description": "A duration: 90d, 36h, 30m, 45s, 2w or '2 business days'.",
        }
    ),
]


def _expression(value: Any) -> str:
    """A Jinja expression: checked for syntax here, for names in `checks`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a Jinja expression as text, found {value!r}")
    from cxops.expr import check_expression_syntax

    check_expression_syntax(value)
    return value


def _text_template(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, found {value!r}")
    from cxops.expr import check_template_syntax

    check_template_syntax(value)
    return value


Expression = Annotated[
    str,
    PlainValidator(_expression),
    WithJsonSchema(
        {"type": ["string", "boolean"], "description": "A Jinja expression (sandboxed)."}
    ),
]
TextTemplate = Annotated[
    str,
    PlainValidator(_text_template),
    WithJsonSchema({"type": "string", "description": "Text with Jinja {{ placeholders }}."}),
]

Email = Annotated[str, Field(pattern=EMAIL_RE.pattern, description="An email address.")]


#: What starts Jinja syntax; shown as written in a field that is not a template.
_JINJA_MARKS = ("{{", "{%", "{#")
TEMPLATED_FIELDS = "questions' text, invitation.subject, and a follow-up rule's task and assign_to"


def _no_jinja(text: str) -> str:
    """Plain text: Jinja syntax here would reach people as written, braces and all."""
    for mark in _JINJA_MARKS:
        if mark in text:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ValueError(
                f"expected plain text: this field is not a template, and {mark!r} would be "
                f"shown as written (templates go in {TEMPLATED_FIELDS}), found {shown!r}"
            )
    return text


def _not_a_template(value: Any) -> str:
    return _no_jinja(_plain_text(value))


def _localized(value: Any, *, template: bool) -> str | dict[str, str]:
    """A string, or a mapping of locale to string (docs/survey-format.md, "Languages")."""
    check = _text_template if template else _not_a_template
    if isinstance(value, dict):
        if not value:
            raise ValueError("expected a text or a mapping of locale to text, found {}")
        texts: dict[str, str] = {}
        for locale, text in value.items():
            if not isinstance(locale, str) or not LOCALE_RE.match(locale):
                raise ValueError(
                    f"expected locales like 'en', 'de' or 'pt-BR' as keys, found {locale!r}"
                )
            texts[locale] = check(_plain_text(text))
        return texts
    return check(_plain_text(value))


def _plain_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected text, found {value!r}")
    return value


def _localized_schema(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "anyOf": [
            {"type": "string"},
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": LOCALE_RE.pattern},
                "additionalProperties": {"type": "string"},
            },
        ],
    }


#: Customer-facing text, never a template: a string or {locale: string}.
LocalizedText = Annotated[
    str | dict[str, str],
    PlainValidator(lambda value: _localized(value, template=False)),
    WithJsonSchema(_localized_schema("Text, or a mapping of locale to text.")),
]
#: Customer-facing text with Jinja {{ placeholders }}: a string or {locale: string}.
LocalizedTemplate = Annotated[
    str | dict[str, str],
    PlainValidator(lambda value: _localized(value, template=True)),
    WithJsonSchema(
        _localized_schema("Text with {{ placeholders }}, or a mapping of locale to such text.")
    ),
]


# -- schedule -----------------------------------------------------------------------


class Schedule(Strict):
    """When waves run: a cron expression in a time zone, or a fixed interval."""

    cron: str | None = Field(default=None, description="Five-field cron, e.g. '0 9 1 */3 *'.")
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Berlin.")
    interval: DurationField | None = Field(default=None, description="E.g. 1h, 1d.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        problem = cron_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        time_zone(value)
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: Duration | None) -> Duration | None:
        if value is not None and (
            value.is_business or value.approx_timedelta().total_seconds() < 60
        ):
            raise ValueError(f"expected an interval of at least 1m in s/m/h/d/w, found '{value}'")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("expected exactly one of 'cron' or 'interval'")
        return self


# -- audience -----------------------------------------------------------------------

ColumnType = Literal["int", "float", "date", "datetime", "bool", "str"]


class _SourceBase(Strict):
    key: str = Field(description="Column that identifies a contact (unique).")
    email: str = Field(default="email", description="Column holding the email address.")
    columns: dict[str, ColumnType] = Field(
        default_factory=dict, description="Typed columns; the others are text."
    )


class CsvSource(_SourceBase):
    csv: str = Field(description="Path of the CSV file, relative to the project dir.")


class ParquetSource(_SourceBase):
    parquet: str = Field(description="Path of the Parquet file (needs the parquet extra).")


class SqlSource(_SourceBase):
    sql: str = Field(description="A SELECT query.")
    url: str = Field(
        description="SQLAlchemy URL; '${VAR}' is read from the environment at run time."
    )


def _source_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for kind in ("csv", "parquet", "sql"):
            if kind in value:
                return kind
        # Only `columns:`: the contacts of a triggered survey come from events.
        return "event" if value and set(value) <= {"columns"} else None
    for kind, model in (
        ("csv", CsvSource),
        ("parquet", ParquetSource),
        ("sql", SqlSource),
        ("event", EventSource),
    ):
        if isinstance(value, model):
            return kind
    return None


Source = Annotated[
    Annotated[CsvSource, Tag("csv")]
    | Annotated[ParquetSource, Tag("parquet")]
    | Annotated[SqlSource, Tag("sql")]
    | Annotated[EventSource, Tag("event")],
    Discriminator(
        _source_kind,
        custom_error_type="source_kind",
        custom_error_message="expected a source with one of the keys 'csv', 'parquet' or 'sql'",
    ),
]


class Sample(Strict):
    size: int | None = Field(
        default=None,
        gt=0,
        le=10_000_000,
        description="How many contacts to invite (none with quota.rounds: the rounds decide).",
    )
    stratify: str | None = Field(
        default=None,
        description="'segment' or a source column: proportional allocation over its values.",
    )
    seed: int = Field(default=0, description="Same input and seed give the same sample.")


class Rounds(Strict):
    size: int = Field(gt=0, le=1_000_000, description="How many more of each segment per round.")
    every: DurationField = Field(
        description="Round k is due at the wave's start + (k - 1) x every."
    )


class Quota(BaseModel):
    """When a segment has enough: answers (`per_segment`, or a number per segment name) or
    precision (`nps_margin`, `ci_width`), optionally invited in `rounds`."""

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        json_schema_extra={
            "additionalProperties": {
                "type": "integer",
                "exclusiveMinimum": 0,
                "description": "A segment's quota of confirmed answers.",
            }
        },
    )
    #: Segment name -> its quota of confirmed answers (the keys that are not fields).
    __pydantic_extra__: dict[str, Annotated[int, Field(gt=0, le=10_000_000, strict=True)]]

    per_segment: int | None = Field(
        default=None, gt=0, le=10_000_000, description="Confirmed answers each segment needs."
    )
    nps_margin: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Enough once the segment's 95% adjusted-Wald NPS margin is at most ± this "
        "(points).",
    )
    ci_width: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Enough once the full width of the segment's 95% interval of % satisfied "
        "(CSAT) or % easy (CES) is at most this (percentage points).",
    )
    rounds: Rounds | None = Field(
        default=None,
        description="Invite the next `size` of each segment still short every `every`.",
    )

    @property
    def by_segment(self) -> dict[str, int]:
        """The per-segment quotas named one by one (`{enterprise: 50, smb: 200}`)."""
        return dict(self.__pydantic_extra__ or {})

    @property
    def target(self) -> str:
        """Which kind of quota: answers, nps_margin or ci_width."""
        if self.nps_margin is not None:
            return "nps_margin"
        if self.ci_width is not None:
            return "ci_width"
        return "answers"

    def answers_for(self, segment: str) -> int | None:
        """A segment's quota of answers, None when it has none (precision, or not named)."""
        if self.per_segment is not None:
            return self.per_segment
        return self.by_segment.get(segment)

    @model_validator(mode="after")
    def _one_target(self) -> Quota:
        given = [
            name
            for name, present in (
                ("per_segment", self.per_segment is not None),
                ("nps_margin", self.nps_margin is not None),
                ("ci_width", self.ci_width is not None),
                ("a number per segment", bool(self.__pydantic_extra__)),
            )
            if present
        ]
        if len(given) != 1:
            found = " and ".join(given) if given else "none"
            raise ValueError(
                "expected one kind of quota: per_segment, a number per segment, nps_margin "
                f"or ci_width, found {found}"
            )
        return self


class Exclude(Strict):
    surveyed_within: DurationField | None = Field(
        default=None, description="Skip people invited to this survey within this duration."
    )


class Audience(Strict):
    source: Source
    filter: Expression | None = None
    segments: dict[str, Expression] = Field(
        default_factory=dict, description="Segment name -> expression; first match wins."
    )
    sample: Sample | None = None
    quota: Quota | None = Field(
        default=None,
        description="Stop inviting a segment once it has enough (answers or precision).",
    )
    exclude: Exclude = Field(default_factory=Exclude)

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$", name):
                raise ValueError(
                    f"expected segment names of letters, digits, _ and -, found {name!r}"
                )
        return value


# -- questions ----------------------------------------------------------------------


class _QuestionBase(Strict):
    id: str = Field(pattern=IDENT, description="Question id: lowercase letters, digits, _.")
    text: LocalizedTemplate
    required: bool = True


class NpsQuestion(_QuestionBase):
    type: Literal["nps"]


class CsatQuestion(_QuestionBase):
    type: Literal["csat"]


class CesQuestion(_QuestionBase):
    type: Literal["ces"]


class RatingQuestion(_QuestionBase):
    type: Literal["rating"]
    min: int = 1
    max: int = 5
    labels: dict[int, LocalizedText] | None = None

    @model_validator(mode="after")
    def _range(self) -> RatingQuestion:
        if not self.min < self.max <= self.min + 20:
            raise ValueError(
                f"expected min < max (at most 21 points), found {self.min}..{self.max}"
            )
        if self.labels and any(not self.min <= k <= self.max for k in self.labels):
            raise ValueError(f"expected label keys within {self.min}..{self.max}")
        return self


Options = Annotated[
    list[LocalizedText],
    Field(
        min_length=2,
        max_length=100,
        description="Choices; each a text or {locale: text}. An answer stores the first text.",
    ),
]


class SingleQuestion(_QuestionBase):
    type: Literal["single"]
    options: Options

    @field_validator("options")
    @classmethod
    def _unique(cls, value: list[str | dict[str, str]]) -> list[str | dict[str, str]]:
        return _unique_options(value)


class MultiQuestion(_QuestionBase):
    type: Literal["multi"]
    options: Options

    @field_validator("options")
    @classmethod
    def _unique(cls, value: list[str | dict[str, str]]) -> list[str | dict[str, str]]:
        return _unique_options(value)


class TextQuestion(_QuestionBase):
    type: Literal["text"]
    max_length: int = Field(default=2000, ge=1, le=100_000)


def _unique_options(value: list[str | dict[str, str]]) -> list[str | dict[str, str]]:
    from cxops.spec.texts import option_value

    seen: set[str] = set()
    for option in value:
        stored = option_value(option)
        if stored in seen:
            raise ValueError(f"duplicate option {stored!r}")
        seen.add(stored)
    return value


Question = Annotated[
    NpsQuestion
    | CsatQuestion
    | CesQuestion
    | RatingQuestion
    | SingleQuestion
    | MultiQuestion
    | TextQuestion,
    Field(discriminator="type"),
]

SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
#: The scores that count as the "top box" of each kind (CSAT satisfied, CES agreeing).
TOP_BOX: dict[str, tuple[int, int]] = {"csat": (4, 5), "ces": (5, 7)}


def question_scale(question: Any) -> tuple[int, int] | None:
    """(min, max) of a scored question, None for choice and text questions."""
    if question.type in SCALES:
        return SCALES[question.type]
    if question.type == "rating":
        return question.min, question.max
    return None


# -- interview, invitation, follow-up --------------------------------------------------


class Interview(Strict):
    goal: int = Field(gt=0, le=10_000, description="Stop inviting once this many accepted.")
    batch: int = Field(gt=0, le=100_000, description="Invitations per run until the goal.")
    duration: DurationField
    incentive: LocalizedText | None = None
    booking_url: str = Field(pattern=r"^https?://", description="Where accepted people book.")
    consent: LocalizedText = Field(description="What the person consents to.")
    screen: Expression | None = Field(
        default=None,
        description="Over `answers` (the screener questions): who may book; "
        "the others get a kind thank-you.",
    )


class Reminder(Strict):
    after: DurationField
    max: int = Field(default=1, ge=1, le=5)


TEMPLATE_NAME = r"^[A-Za-z0-9_-]+$"
VARIANT_ID = r"^[a-z0-9][a-z0-9_-]*$"


class VariantReminder(Strict):
    after: DurationField


class Variant(Strict):
    """One arm of an invitation experiment: what it changes of the invitation."""

    id: str = Field(pattern=VARIANT_ID, max_length=32, description="Names the variant.")
    subject: TextTemplate | None = Field(default=None, description="Its subject line.")
    template: str | None = Field(default=None, pattern=TEMPLATE_NAME, description="Its template.")
    reminder: VariantReminder | None = Field(
        default=None, description="Its reminder's `after` (the count stays the invitation's)."
    )
    send_window: SendWindow | None = Field(default=None, description="Its send window.")


class Invitation(Strict):
    template: str = Field(pattern=TEMPLATE_NAME, description="templates/NAME.*.j2")
    from_: str = Field(alias="from", description="'Name <address>' or an address.")
    reply_to: str | None = None
    subject: TextTemplate | None = Field(
        default=None, description="Overrides the template's subject."
    )
    locales: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    reminder: Reminder | None = None
    expires_after: DurationField = Field(default_factory=lambda: parse_duration("14d"))
    send_window: SendWindow | None = Field(
        default=None, description="The local hours and days invitations and reminders leave."
    )
    variants: list[Variant] = Field(
        default_factory=list,
        description="An experiment: each variant changes the subject, template, reminder "
        "or send window; each invitee gets one, at random (seeded, stratified by segment).",
    )
    split: dict[str, float] | None = Field(
        default=None, description="Variant id -> weight (default: even)."
    )
    winner: str | None = Field(
        default=None, description="The chosen variant: later waves send only it."
    )
    seed: int | None = Field(
        default=None,
        description="Seeds the assignment (default: derived from the survey id and the wave).",
    )

    def variant(self, variant_id: str) -> Variant:
        """The variant named `variant_id` (KeyError when there is none)."""
        for variant in self.variants:
            if variant.id == variant_id:
                return variant
        raise KeyError(variant_id)

    def weights(self) -> dict[str, float]:
        """Variant id -> the share of invitees it gets now (the winner alone once there is
        one; even without a split); empty without variants."""
        if not self.variants:
            return {}
        if self.winner is not None:
            return {self.winner: 1.0}
        split = self.split or {variant.id: 1.0 for variant in self.variants}
        total = sum(split.get(variant.id, 0.0) for variant in self.variants)
        return {variant.id: split.get(variant.id, 0.0) / total for variant in self.variants}

    def for_variant(self, variant_id: str | None) -> Invitation:
        """The invitation as `variant_id` sends it (None or unknown: as it is)."""
        if variant_id is None or not any(v.id == variant_id for v in self.variants):
            return self
        variant = self.variant(variant_id)
        update: dict[str, Any] = {}
        if variant.subject is not None:
            update["subject"] = variant.subject
        if variant.template is not None:
            update["template"] = variant.template
        if variant.send_window is not None:
            update["send_window"] = variant.send_window
        if variant.reminder is not None and self.reminder is not None:
            update["reminder"] = self.reminder.model_copy(update={"after": variant.reminder.after})
        return self.model_copy(update=update)

    @field_validator("from_", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from email.utils import parseaddr

        address = parseaddr(value)[1]
        if not EMAIL_RE.match(address):
            raise ValueError(f"expected 'Name <address@domain>' or an address, found {value!r}")
        return value

    @field_validator("locales")
    @classmethod
    def _locales(cls, value: list[str]) -> list[str]:
        for locale in value:
            if not LOCALE_RE.match(locale):
                raise ValueError(f"expected locales like 'en', 'de' or 'pt-BR', found {locale!r}")
        duplicates = sorted({locale for locale in value if value.count(locale) > 1})
        if duplicates:
            raise ValueError(f"expected each locale once, found {duplicates[0]!r} again")
        return value


Priority = Literal["low", "normal", "high", "urgent"]


NotifyFormat = Literal["json", "slack", "teams"]
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Notify(Strict):
    url: str | None = Field(
        default=None, pattern=r"^https?://", description="Receives a POST per new task."
    )
    url_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="Environment variable holding the URL (a Slack or Teams webhook URL is a secret).",
    )
    format: NotifyFormat = Field(
        default="json",
        description="json (the signed task payload), slack (incoming webhook) or teams (workflow).",
    )
    secret_env: str | None = Field(
        default=None, description="Environment variable holding the HMAC signing secret."
    )

    @model_validator(mode="after")
    def _one_url(self) -> Notify:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        if self.url is not None and self.format != "json":
            raise ValueError(
                f"a {self.format} webhook URL is a secret: name the environment variable "
                "that holds it with url_env instead of writing url"
            )
        return self

    @property
    def target(self) -> str:
        """Where it goes, safe to store and show: the URL, or `$NAME` for `url_env`."""
        return self.url if self.url is not None else f"${self.url_env}"


class FollowupRule(Strict):
    id: str | None = Field(
        default=None, pattern=IDENT, description="Stable rule id; default rule_N by position."
    )
    when: Expression
    task: TextTemplate
    assign_to: TextTemplate | None = None
    fallback: Email | None = None
    due: DurationField
    priority: Priority = "normal"
    escalate_to: Email | None = None
    context: list[str] = Field(
        default_factory=list, description="Contact fields shown with the task and in digests."
    )
    notify: Notify | None = None
    steps: list[Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_jinja)]] = (
        Field(
            default_factory=list,
            max_length=20,
            description="A playbook: the checklist the task page shows; `resolved` needs every step.",
        )
    )


# -- the survey ---------------------------------------------------------------------

Kind = Literal["nps", "csat", "ces", "custom", "interview"]


class Survey(Strict):
    id: str = Field(pattern=SLUG, max_length=64, description="Unique id: a-z, 0-9 and -.")
    name: str = Field(min_length=1, description="Internal: reports, the CLI, Prefect.")
    kind: Kind
    owner: Email | None = None
    priority: int = Field(
        default=0,
        ge=-1000,
        le=1000,
        description="Which survey gets a person two surveys want in one window: the higher.",
    )
    title: LocalizedText | None = Field(
        default=None,
        description="The heading customers see (default: a neutral one per kind, translated).",
    )
    schedule: Schedule | None = None
    trigger: Trigger | None = Field(
        default=None,
        description="Events start invitations: which event, how long after, the contact.",
    )
    cooldown: DurationField | None = Field(
        default=None,
        description="Per person, this survey only: no second invitation within this duration "
        "(e.g. 14d), whichever wave it would be in.",
    )
    audience: Audience
    questions: list[Question] = Field(default_factory=list)
    interview: Interview | None = None
    invitation: Invitation
    followup: list[FollowupRule] = Field(default_factory=list)
    themes: dict[str, list[str]] = Field(default_factory=dict)
    report: ReportSettings = Field(default_factory=ReportSettings)

    _source_path: Path | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        """The file this survey was loaded from."""
        return self._source_path

    def remember_source(self, path: Path | None) -> None:
        """Record the file this survey was loaded from (`source_path`)."""
        self._source_path = path

    @property
    def main_question(self) -> Any | None:
        """The question the survey's kind is about (the first nps question of an nps survey)."""
        for question in self.questions:
            if question.type == self.kind:
                return question
        return None

    @property
    def timezone(self) -> str:
        return self.schedule.timezone if self.schedule else "UTC"

    @property
    def triggered(self) -> bool:
        """Whether events, rather than a schedule or a person, start its invitations.

        The one place this is derived: a survey is triggered when it has `trigger:`."""
        return self.trigger is not None

    def for_variant(self, variant_id: str | None) -> Survey:
        """The survey as invitation variant `variant_id` sends it (None: as it is)."""
        invitation = self.invitation.for_variant(variant_id)
        if invitation is self.invitation:
            return self
        copy = self.model_copy(update={"invitation": invitation})
        copy.remember_source(self.source_path)
        return copy

    def rule_id(self, index: int) -> str:
        rule = self.followup[index]
        return rule.id or f"rule_{index + 1}"

    @model_validator(mode="after")
    def _kind_rules(self) -> Survey:
        if isinstance(self.audience.source, EventSource) and self.trigger is None:
            raise ValueError(
                "audience.source with only 'columns' needs a 'trigger:' (contacts from "
                "events); otherwise expected one of the keys 'csv', 'parquet' or 'sql'"
            )
        if self.kind == "interview" and self.interview is None:
            raise ValueError("kind 'interview' needs an 'interview' section")
        if self.kind != "interview" and self.interview is not None:
            raise ValueError(f"an 'interview' section needs kind 'interview', found {self.kind!r}")
        if self.kind != "interview" and not self.questions:
            raise ValueError("expected at least one question")
        if self.kind in SCALES and self.main_question is None:
            raise ValueError(f"kind {self.kind!r} needs a question of type {self.kind!r}")
        return self
