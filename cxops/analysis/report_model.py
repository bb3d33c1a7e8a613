"""The report document as frozen models: what `build_report` returns, what the HTML page,
the terminal headline and the Prefect artifacts read, and what `cxops report --json`
prints (`Report.document()`).

The JSON shape is a public contract (docs/behaviour.md): a key appears only when its
part of the report has it (a group under `min_n` has `suppressed` and no `questions`;
a figure is `{value, ci, n}` or `{suppressed, n}`), so every optional field is left
*unset* rather than set to null, and `document()` dumps the fields that were set, in
the order declared here. `cxops schema report` prints `Report`'s JSON Schema.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REPORT_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

Number = int | float


def _no_null(schema: dict[str, Any]) -> None:
    """A field left out of the document when unset is never null in it."""
    schema.pop("default", None)
    options = [o for o in schema.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options


def absent() -> Any:
    """An optional part: absent from the document unless the report has it."""
    return Field(default=None, json_schema_extra=_no_null)


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Figure(_Part):
    """One figure: `{value, ci, n}`; a change adds `n_previous` and `verdict`; with
    fewer than `min_n` answers behind it, `{suppressed: true, n}` (and `n_previous`)."""

    suppressed: bool = False
    #: null when no answer backs it (n = 0); absent when suppressed.
    value: Number | None = None
    ci: tuple[Number | None, Number | None] | None = None
    n: int
    n_previous: int | None = absent()
    verdict: str | None = absent()


class Distribution(_Part):
    """Answers per score of the whole scale (keys are the scores as text), or suppressed."""

    suppressed: bool = False
    n: int
    counts: dict[str, int] | None = absent()


class QuestionFigures(_Part):
    """One question's metrics in a group; scored questions name their `headline` metric."""

    type: str
    text: str
    headline: str | None = absent()
    #: true: hidden although it has enough answers, so that a smaller group's figures
    #: cannot be worked out by subtraction (complementary suppression).
    complementary: bool | None = absent()
    n: int
    metrics: dict[str, Figure]
    distribution: Distribution | None = absent()


class Pooled(_Part):
    """A group pooling several waves (or people who answered more than once): the
    intervals of its scored questions are clustered by contact (`method`)."""

    waves: int
    respondents: int
    answers_more_than_once: bool
    method: str


class Group(_Part):
    """The figures of one group of answers (overall, a segment, a period)."""

    suppressed: bool = False
    #: true: suppressed although it has enough answers, so that a smaller group's figures
    #: cannot be worked out by subtraction (complementary suppression).
    complementary: bool | None = absent()
    n: int
    invited: int
    complete: int
    partial: int
    response_rate: Figure
    partial_rate: Figure
    completion_rate: Figure | None = absent()
    pooled: Pooled | None = absent()
    questions: dict[str, QuestionFigures] | None = absent()

    def headline_figure(self, question_id: str | None, name: str) -> Figure:
        """The metric `name` of question `question_id`, or suppressed with this group's n."""
        if self.suppressed or question_id is None or self.questions is None:
            return Figure(suppressed=True, n=self.n)
        return self.questions[question_id].metrics[name]


class WaveChange(_Part):
    """Every metric of period `to` against period `from` (the one before it with answers)."""

    from_: str = Field(alias="from")
    to: str
    response_rate: Figure
    questions: dict[str, dict[str, Figure]]


class RevenueAtStake(_Part):
    """The revenue column summed over the customers at stake (`n`: customers, each once)."""

    suppressed: bool = False
    value: Number | None = absent()
    n: int
    missing: int | None = absent()


class Theme(_Part):
    """One theme: answers mentioning it, their share, the main metric among them (under
    the metric's own name: `nps`, `satisfied`, `easy` or `mean`), revenue at stake, quotes."""

    #: true: fewer than `min_n` answers mention it (or comment at all): its count only.
    suppressed: bool = False
    count: int
    share: Figure
    negative: int | None = absent()
    metric: str | None = absent()
    nps: Figure | None = absent()
    satisfied: Figure | None = absent()
    easy: Figure | None = absent()
    mean: Figure | None = absent()
    revenue_at_stake: RevenueAtStake | None = absent()
    quotes: list[str] = Field(default_factory=list)

    @property
    def metric_figure(self) -> Figure | None:
        """The main metric among the theme's answers (`metric` names it)."""
        if self.metric is None:
            return None
        found: Figure | None = getattr(self, self.metric, None)
        return found


class Themes(_Part):
    answers: int
    revenue_column: str | None
    themes: dict[str, Theme]
    untagged_count: int
    untagged: list[str]


class OutcomeSource(_Part):
    next_wave: int
    source_now: int


class LoopGroup(_Part):
    """Negative answers whose task was closed (or not): churn and rescue among those whose
    task was due before the outcome was read."""

    n: int
    churned: Figure | None = absent()
    outcome_unknown: int | None = absent()
    outcome_from: OutcomeSource | None = absent()
    rescued: Figure


class LoopComparison(_Part):
    """Closed minus not closed, like for like: `difference` is the stratified risk
    difference in points (`n`: closed answers compared, `n_previous`: not closed), over
    `compared` answers in `strata` strata that hold both; `not_yet_due` answers were left
    out because their task was not yet due when the outcome was read."""

    difference: Figure
    strata: int
    compared: int
    not_yet_due: int


class LoopOutcome(_Part):
    column: str
    churned: str | int | bool
    as_of: str


class Loop(_Part):
    """Closing the loop and what followed: an association, not an effect. The churn
    figures only when the survey names an outcome column."""

    outcome: LoopOutcome | None
    method: str
    negative_answers_with_tasks: int
    customers: int
    closed: LoopGroup
    not_closed: LoopGroup
    churn: LoopComparison | None = absent()
    rescue: LoopComparison
    rescue_rate: Figure


class SurveyRef(_Part):
    id: str
    name: str
    kind: str


class Excluded(_Part):
    """Answers left out as suspect, by reason."""

    suspect: dict[str, int]
    total: int


class Provenance(_Part):
    survey_file: str | None
    commit: str | None
    dirty: bool | None
    inputs_sha256: str
    cxops_version: str
    generated_at: str


class VariantDifference(_Part):
    """A variant against the first one (`to`): each figure's value is this variant's
    minus the first's, with its 95% interval and a verdict ("higher", "lower" or
    "no detectable difference" when the interval includes zero)."""

    to: str
    response_rate: Figure
    completion_rate: Figure
    metrics: dict[str, Figure]


class VariantFigures(_Part):
    """One invitation variant: what it got, over the waves in scope."""

    #: Its share of invitees now, in percent (0 once another variant won).
    share: Number
    waves: list[str]
    invited: int
    answers: int
    response_rate: Figure
    completion_rate: Figure
    #: The survey's score metric (nps, satisfied, easy or mean) under its name.
    metrics: dict[str, Figure]
    difference: VariantDifference | None = absent()
    #: What each variant would need to detect `Variants.detect` (invitations for the
    #: response rate, answers for the score), at 95% confidence and 80% power.
    needed_n: dict[str, int] | None = absent()


class ExperimentWave(_Part):
    """Which variants one wave sent, and how many invitations each."""

    wave: str
    invited: dict[str, int]


class Variants(_Part):
    """The invitation experiment (`invitation.variants`); the headline is over all of them."""

    metric: str | None
    winner: str | None = absent()
    #: The split now, in percent (the winner alone once there is one).
    split: dict[str, Number]
    #: The differences `needed_n` is for (response rate in points, the score in its units).
    detect: dict[str, Number]
    variants: dict[str, VariantFigures]
    history: list[ExperimentWave]


class Headline(_Part):
    """The latest period with answers, in full: what the report leads with."""

    period: str
    label: str
    group: Group


class Report(_Part):
    """The whole report (docs/behaviour.md, "the report")."""

    report_version: int
    survey: SurveyRef
    wave: str | None
    waves: list[str]
    #: wave -> how people read it: its id and when it went out ("wave w1 (sent 1 Aug 2026)").
    wave_labels: dict[str, str]
    #: wave -> when its first invitation was sent (ISO 8601, UTC); waves not sent yet absent.
    first_sent_at: dict[str, str]
    #: what a period is: `wave`, `week`, `month` or `quarter` (in the survey's time zone).
    by: str
    #: the periods, oldest first, each with the waves it holds and how people read it.
    periods: list[str]
    period_waves: dict[str, list[str]]
    period_labels: dict[str, str]
    min_n: int
    level: float
    excluded: Excluded
    #: the latest period with answers (absent while no period has any).
    headline: Headline | None = absent()
    #: every answer in scope, pooled over its periods (`pooled` says so).
    overall: Group
    by_segment: dict[str, Group]
    by_period: dict[str, Group]
    #: `--cut COLUMN`: column -> its values' groups, pooled over the scope like `by_segment`.
    cuts: dict[str, dict[str, Group]] | None = absent()
    changes: list[WaveChange]
    themes: Themes
    loop: Loop | None
    provenance: Provenance
    #: The invitation experiment, when the survey has or had variants.
    variants: Variants | None = absent()

    def document(self) -> dict[str, Any]:
        """The JSON document (`cxops report --json`): only the keys each part has."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def main_question(self) -> tuple[str | None, QuestionFigures | None]:
        """The first scored question of the overall group (the survey's headline)."""
        if self.overall.suppressed or self.overall.questions is None:
            return None, None
        for qid, question in self.overall.questions.items():
            if question.headline is not None:
                return qid, question
        return None, None


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of `cxops report --json`, generated from `Report`."""
    generated = Report.model_json_schema(by_alias=True, mode="serialization")
    schema: dict[str, Any] = {"$schema": REPORT_SCHEMA_DIALECT, "title": "cxops report"}
    schema.update({key: value for key, value in generated.items() if key != "title"})
    schema["description"] = (
        "The report document of `cxops report --json`: a key is present only when its "
        "part of the report has it."
    )
    return schema


def report_json_schema_text() -> str:
    """`report_json_schema()` as indented JSON, ending with a newline."""
    return json.dumps(report_json_schema(), indent=2, ensure_ascii=False) + "\n"
