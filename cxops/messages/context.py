"""The parts of an invitation's template context that are the same for every recipient."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from cxops.spec.models import Survey, question_scale


def question_context(survey: Survey) -> dict[str, Any] | None:
    question = survey.main_question
    if question is None:
        return None
    scale = question_scale(question)
    low, high = scale if scale is not None else (None, None)
    return {
        "id": question.id,
        "type": question.type,
        "text": question.text,
        "required": question.required,
        "min": low,
        "max": high,
        "scale": list(range(scale[0], scale[1] + 1)) if scale is not None else [],
        "labels": dict(getattr(question, "labels", None) or {}),
    }


def display_name(from_header: str) -> str:
    """'Acme Research <research@acme.example>' -> 'Acme Research' (else the address)."""
    name, address = parseaddr(from_header)
    return name or address


def interview_context(survey: Survey) -> dict[str, Any] | None:
    interview = survey.interview
    if interview is None:
        return None
    return {
        "goal": interview.goal,
        "batch": interview.batch,
        "duration": str(interview.duration),
        "duration_minutes": int(interview.duration.approx_timedelta().total_seconds() // 60),
        "incentive": interview.incentive,
        "booking_url": interview.booking_url,
        "consent": interview.consent,
    }
