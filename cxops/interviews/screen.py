"""What an interview page's final answer adds: the consent's hash and time, the screener.

`interview_answers` is called by the collector on a complete submit of an
interview survey. Accepting with consent stores `consent_sha256` (of the consent
text shown) and `consent_at`. With a `screen:` expression, a person who accepted
but does not pass it is stored with `screened_out: true` and `accepted: false`
(accepted means accepted into the study: follow-up rules on `answers.accepted`
and the goal count only people who may book); they see a kind thank-you.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cxops.errors import ExpressionError
from cxops.expr import Evaluator
from cxops.interviews.recruit import consent_sha256
from cxops.spec.models import Survey
from cxops.spec.texts import pick


def interview_answers(
    survey: Survey, values: Mapping[str, Any], now: datetime, locale: str = "en"
) -> dict[str, Any]:
    """`values` with the consent record (of the text shown in `locale`) and the screener's
    verdict added."""
    answers = dict(values)
    interview = survey.interview
    if interview is None or answers.get("accepted") is not True:
        return answers
    if answers.get("consent") is True:
        shown = pick(interview.consent, locale, survey.invitation.locales)
        answers["consent_sha256"] = consent_sha256(shown)
        answers["consent_at"] = now.isoformat()
    if interview.screen is not None:
        try:
            passed = Evaluator(now).test(interview.screen, {"answers": answers})
        except ExpressionError as exc:
            # The study's screener is broken: let the person book and say so beside the answer.
            answers["screen_error"] = str(exc)
            passed = True
        if not passed:
            answers["accepted"] = False
            answers["screened_out"] = True
    return answers


def outcome(answers: Mapping[str, Any]) -> str:
    """`accepted`, `screened_out` or `declined` for the interview record."""
    if answers.get("screened_out") is True:
        return "screened_out"
    if answers.get("accepted") is True:
        return "accepted"
    return "declined"


def thanks_view(survey: Survey, ref: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """What the thank-you page of an interview shows: the booking link (carrying the
    invitation's reference) for people who may book, else a kind word."""
    from cxops.interviews.recruit import booking_link

    interview = survey.interview
    if interview is None:
        return {"booking_url": None, "declined": False, "screened_out": False}
    may_book = answers.get("accepted") is True
    return {
        "booking_url": booking_link(interview.booking_url, ref) if may_book else None,
        "screened_out": answers.get("screened_out") is True,
        "declined": answers.get("accepted") is False and answers.get("screened_out") is not True,
    }
