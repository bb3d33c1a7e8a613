"""What contact-policy expressions see as `survey`, and the expressions' name checks.

A `policy.yaml` rule's `when` and `CXOPS_CONTACT_CAP_EXEMPT` may read the survey being
planned: `survey.id`, `survey.kind`, `survey.priority` and `survey.triggered` (whether
events start its invitations; `Survey.triggered` derives it). `survey_facts` is the one
place those values are taken from a survey.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cxops.errors import ConfigError, ExpressionError
from cxops.expr import Evaluator, check_expression_syntax, references
from cxops.spec.models import Survey

#: The fields of `survey` in a policy expression.
SURVEY_FIELDS = ("id", "kind", "priority", "triggered")
#: The setting that exempts surveys from the contact cap, as users write it.
EXEMPT_SETTING = "setting contact_cap_exempt (CXOPS_CONTACT_CAP_EXEMPT)"


def survey_facts(survey: Survey) -> dict[str, Any]:
    """`survey` as policy expressions see it."""
    return {
        "id": survey.id,
        "kind": survey.kind,
        "priority": survey.priority,
        "triggered": survey.triggered,
    }


def name_problem(source: str, allowed: Iterable[str], what: str) -> str | None:
    """Why `source` reads a name or a `survey` field it may not (with the nearest
    allowed one), or None. `what` names the expression: "a policy expression"."""
    allowed = sorted(allowed)
    refs = references(source)
    unknown = sorted(refs.names - set(allowed))
    if unknown:
        return (
            f"unknown name {unknown[0]!r}{_did_you_mean(unknown[0], allowed)}: "
            f"{what} may use {', '.join(allowed)}"
        )
    for target, field in sorted(refs.fields):
        if target == "survey" and field not in SURVEY_FIELDS:
            return (
                f"unknown survey field {field!r}{_did_you_mean(field, SURVEY_FIELDS)}: "
                f"expected one of {', '.join(SURVEY_FIELDS)}"
            )
    return None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_cap_exempt(source: str | None) -> str | None:
    """`CXOPS_CONTACT_CAP_EXEMPT` checked (None when unset); ConfigError naming the
    setting when it is no expression over `survey`."""
    if source is None or not source.strip():
        return None
    try:
        check_expression_syntax(source)
    except ValueError as exc:
        raise ConfigError(f"{EXEMPT_SETTING}: {exc}") from None
    problem = name_problem(source, {"survey"}, "the exemption")
    if problem is not None:
        raise ConfigError(f"{EXEMPT_SETTING}: {problem}")
    return source


def exempt_from_cap(source: str | None, facts: Mapping[str, Any], now: datetime) -> bool:
    """Whether the survey with `facts` is outside the contact cap (ConfigError when the
    expression fails for it: a typo must not silently let a survey past the cap)."""
    if source is None:
        return False
    try:
        return Evaluator(now).test(source, {"survey": dict(facts)})
    except ExpressionError as exc:
        raise ConfigError(f"{EXEMPT_SETTING} failed for survey {facts['id']!r}: {exc}") from None
