"""What each person's CRM contact should say: their latest NPS answer and open task.

A person is their address across surveys. Their latest answer is the newest confirmed,
not suspect response to any NPS survey of the project that scores its main question
(answered at: submitted, else first answered). Values are strings, as HubSpot takes
them: the score (`9`), its category (`promoter`), the date in UTC (`2026-12-07`, what
a HubSpot date property takes) and `true`/`false` for an open follow-up task about any
of their answers. Erased people (`cxops forget`) have no address left and are absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from cxops.followup.category import score_category
from cxops.settings.groups import HubSpotProperties
from cxops.spec.models import Survey
from cxops.store.db import Store
from cxops.store.erasures import is_placeholder
from cxops.store.models import Response, Send, Task, UTCDateTime
from cxops.store.responses import CONFIRMED


@dataclass(frozen=True, slots=True)
class LatestAnswer:
    score: int
    category: str
    answered_at: datetime


def latest_answers(
    rows: Iterable[tuple[str, str, datetime, int, Mapping[str, Any]]],
    main_questions: Mapping[str, str],
) -> dict[str, LatestAnswer]:
    """Address -> their newest scored answer, from (address, survey, answered at,
    response id, answers) rows; surveys absent from `main_questions` are ignored."""
    newest: dict[str, tuple[datetime, int, LatestAnswer]] = {}
    for address, survey_id, answered_at, response_id, answers in rows:
        question = main_questions.get(survey_id)
        if question is None or is_placeholder(address):
            continue
        value = answers.get(question)
        category = score_category("nps", value)
        if category is None:
            continue
        order = (answered_at, response_id)
        known = newest.get(address)
        if known is None or order > known[:2]:
            newest[address] = (
                answered_at,
                response_id,
                LatestAnswer(int(float(str(value).strip())), category, answered_at),
            )
    return {address: entry[2] for address, entry in newest.items()}


def property_values(
    answer: LatestAnswer, open_task: bool, properties: HubSpotProperties
) -> dict[str, str]:
    """Property name -> value for one person."""
    return {
        properties.score: str(answer.score),
        properties.category: answer.category,
        properties.date: answer.answered_at.date().isoformat(),
        properties.open_task: "true" if open_task else "false",
    }


def wanted_values(
    store: Store, surveys: Mapping[str, Survey], properties: HubSpotProperties
) -> dict[str, dict[str, str]]:
    """Address -> property values, for everyone with a scored answer to an NPS survey."""
    main_questions = {
        survey_id: survey.main_question.id
        for survey_id, survey in surveys.items()
        if survey.kind == "nps" and survey.main_question is not None
    }
    if not main_questions:
        return {}
    with store.session() as session:
        rows = session.execute(
            select(
                Send.email,
                Response.survey_id,
                func.coalesce(
                    Response.submitted_at, Response.first_answered_at, type_=UTCDateTime()
                ),
                Response.id,
                Response.answers,
            )
            .join(Send, Send.send_id == Response.send_id)
            .where(
                CONFIRMED,
                Response.suspect.is_(False),
                Response.survey_id.in_(sorted(main_questions)),
            )
        ).all()
        open_tasks = set(
            session.scalars(
                select(Send.email)
                .join(Response, Response.send_id == Send.send_id)
                .join(Task, Task.response_id == Response.id)
                .where(Task.status == "open")
                .distinct()
            )
        )
    answers = latest_answers(
        ((email, survey, at, rid, dict(a or {})) for email, survey, at, rid, a in rows),
        main_questions,
    )
    return {
        address: property_values(answer, address in open_tasks, properties)
        for address, answer in answers.items()
    }
