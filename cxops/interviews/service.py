"""Interviews in the store: synced from answers, marked by hand or by Calendly, paid, exported.

`sync_interviews` turns each complete answer of an interview survey into its
`interviews` row (accepted with the consent's hash and time, screened out or
declined) and follows a person who changes their answer until they booked; it is
idempotent and every reader calls it first, so the collector only stores answers.

One coherent thing over 400 lines: every read and write of the `interviews` table,
so that each change of a person's interview status is written in one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxops.interviews.calendly import CalendlyEvent
from cxops.interviews.recruit import (
    HOLDS_A_PLACE,
    InterviewError,
    Progress,
    next_status,
    parse_incentive,
    progress,
)
from cxops.interviews.screen import outcome
from cxops.spec.models import Survey
from cxops.spec.texts import pick
from cxops.store.db import Store
from cxops.store.ledger import MAYBE_SENT
from cxops.store.models import Interview, Response, Send
from cxops.store.responses import CONFIRMED

#: A reference may be shortened to its last characters (unique, at least this many; the
#: first ones are shared by the invitations of one insert, see the ledger).
MIN_REF = 6
#: Statuses an answer may still change (once booked, the scheduler and people decide).
_FROM_ANSWER = frozenset({"accepted", "declined", "screened_out"})


def sync_interviews(store: Store, survey: Survey, now: datetime) -> int:
    """Create or update the interview rows of `survey` from its complete answers; how many."""
    if survey.interview is None:
        return 0
    for attempt in range(2):
        try:
            with store.session(write=True) as session:
                return _sync(session, survey, now)
        except IntegrityError:
            if attempt:
                raise
    return 0  # pragma: no cover - the loop returns or raises


def _incentive_text(survey: Survey) -> str | None:
    """The incentive as recorded: in the survey's first locale (texts may be per locale)."""
    assert survey.interview is not None
    text = survey.interview.incentive
    if text is None:
        return None
    declared = survey.invitation.locales
    return pick(text, declared[0] if declared else "en", declared)


def _sync(session: Session, survey: Survey, now: datetime) -> int:
    assert survey.interview is not None
    incentive = _incentive_text(survey)
    amount, currency = parse_incentive(incentive)
    query = (
        select(Response, Send.email, Interview)
        .join(Send, Send.send_id == Response.send_id)
        .outerjoin(Interview, Interview.send_id == Response.send_id)
        .where(Response.survey_id == survey.id, CONFIRMED)
    )
    changed = 0
    for response, email, interview in session.execute(query):
        status = _answered(response.status, response.answers)
        if status is None:
            continue
        answered = response.submitted_at or response.updated_at
        if interview is None:
            interview = Interview(
                send_id=response.send_id,
                survey_id=survey.id,
                wave_id=response.wave_id,
                contact_key=response.contact_key,
                email=email,
                status=status,
                answered_at=answered,
                updated_at=now,
                incentive=incentive,
                incentive_amount=amount,
                incentive_currency=currency,
                incentive_status="none",
                events=[],
            )
            session.add(interview)
        elif interview.status in _FROM_ANSWER and interview.status != status:
            interview.answered_at = answered
        else:
            continue
        _consent(interview, response.answers)
        _set(interview, status, now, "answer")
        changed += 1
    return changed


def _consent(interview: Interview, answers: dict[str, Any]) -> None:
    digest = answers.get("consent_sha256")
    at = answers.get("consent_at")
    if isinstance(digest, str) and isinstance(at, str):
        interview.consent_sha256 = digest
        interview.consent_at = datetime.fromisoformat(at)
    else:
        interview.consent_sha256 = None
        interview.consent_at = None


def _set(interview: Interview, status: str, now: datetime, source: str) -> None:
    interview.status = status
    interview.updated_at = now
    interview.events = [
        *(interview.events or []),
        {"at": now.isoformat(), "status": status, "source": source},
    ]


def recruitment(store: Store, survey: Survey) -> Progress:
    """Invited, accepted, booked, completed and the goal. Read-only: the statuses are
    what `sync_interviews` would store (so `cxops plan` may ask, and writes nothing)."""
    assert survey.interview is not None
    with store.session() as session:
        invited = session.scalar(
            select(func.count(func.distinct(Send.email))).where(
                Send.survey_id == survey.id, Send.step == 0, Send.status.in_(MAYBE_SENT)
            )
        )
        statuses = _statuses(session, survey)
    return progress(survey.interview.goal, int(invited or 0), statuses)


def holding_places(store: Store, survey: Survey) -> int:
    """How many people hold a place towards the goal now (what planning compares to it)."""
    with store.session() as session:
        return sum(1 for status in _statuses(session, survey) if status in HOLDS_A_PLACE)


def _statuses(session: Session, survey: Survey) -> list[str]:
    """Each person's status: the interview row's once booked (or later), else the answer's.

    Only confirmed answers count: a provisional one (a scanner loading the yes link) holds
    no place."""
    from sqlalchemy import inspect

    has_table = inspect(session.connection()).has_table("interviews")
    if not has_table:  # a store not upgraded yet (`cxops plan` does not migrate)
        rows = session.execute(
            select(Response.status, Response.answers).where(
                Response.survey_id == survey.id, CONFIRMED
            )
        )
        return [found for found in (_answered(*row) for row in rows) if found is not None]
    query = (
        select(Response.status, Response.answers, Interview.status)
        .outerjoin(Interview, Interview.send_id == Response.send_id)
        .where(Response.survey_id == survey.id, CONFIRMED)
    )
    statuses = []
    for status, answers, stored in session.execute(query):
        if stored and stored not in _FROM_ANSWER:
            statuses.append(stored)
            continue
        found = _answered(status, answers)
        if found is not None:
            statuses.append(found)
    return statuses


def _answered(status: str, answers: dict[str, Any]) -> str | None:
    """The interview status an answer gives: a complete one's outcome; a decline saved by
    the page's script (one click on "No, thanks") counts too; other partial answers not."""
    if status == "complete":
        return outcome(answers)
    if answers.get("accepted") is False:
        return "declined"
    return None


#: The ledger's error for invitations a wave did not send because the goal was reached
#: (the interview goal's gate, `cxops.gates.goal`, skips them).
GOAL_REACHED = "interview goal reached"


def goal_skipped(store: Store, survey_id: str, wave_id: str) -> int:
    """How many invitations of the wave were not sent because the goal was reached."""
    with store.session() as session:
        count = session.scalar(
            select(func.count()).where(
                Send.survey_id == survey_id,
                Send.wave_id == wave_id,
                Send.status == "skipped",
                Send.error == GOAL_REACHED,
            )
        )
    return int(count or 0)


def find_interview(session: Session, ref: str) -> Interview:
    """The interview with reference `ref` (its invitation's id, or a unique ending of it)."""
    ref = ref.strip()
    found = session.scalar(select(Interview).where(Interview.send_id == ref))
    if found is not None:
        return found
    if len(ref) < MIN_REF:
        raise InterviewError(
            f"no interview {ref!r} (a reference has at least {MIN_REF} characters)"
        )
    matches = session.scalars(
        select(Interview).where(Interview.send_id.endswith(ref, autoescape=True)).limit(2)
    ).all()
    if not matches:
        raise InterviewError(f"no interview {ref!r}")
    if len(matches) > 1:
        raise InterviewError(f"reference {ref!r} is ambiguous: give more characters")
    return matches[0]


def mark(
    store: Store, surveys: Sequence[Survey], ref: str, word: str, now: datetime, source: str = "cli"
) -> dict[str, Any]:
    """`cxops interviews mark REF booked|completed|no-show|cancelled`."""
    _sync_all(store, surveys, now)
    with store.session(write=True) as session:
        interview = find_interview(session, ref)
        status = next_status(interview.status, word, interview.incentive_status)
        _apply(interview, status, now, source)
        return describe(interview)


def _apply(interview: Interview, status: str, now: datetime, source: str) -> None:
    if status == "booked":
        interview.booked_at = interview.booked_at or now
    if status == "completed":
        interview.completed_at = now
        if interview.incentive and interview.incentive_status == "none":
            interview.incentive_status = "owed"
    elif interview.incentive_status == "owed":
        interview.incentive_status = "none"  # marked back from completed: nothing owed
        interview.completed_at = None
    _set(interview, status, now, source)


def pay(store: Store, surveys: Sequence[Survey], ref: str, now: datetime) -> dict[str, Any]:
    """`cxops interviews pay REF`: an owed incentive is paid (once)."""
    _sync_all(store, surveys, now)
    with store.session(write=True) as session:
        interview = find_interview(session, ref)
        if interview.incentive_status == "paid":
            raise InterviewError(
                f"the incentive of {interview.send_id} was paid on {interview.paid_at:%Y-%m-%d}"
            )
        if interview.incentive_status != "owed":
            raise InterviewError(
                f"nothing is owed to {interview.send_id}: the interview is "
                f"{interview.status.replace('_', ' ')}"
                + ("" if interview.incentive else " and the study has no incentive")
            )
        interview.incentive_status = "paid"
        interview.paid_at = now
        interview.updated_at = now
        return describe(interview)


def apply_calendly(
    store: Store, surveys: Sequence[Survey], event: CalendlyEvent, now: datetime
) -> str:
    """A booking or a cancellation from Calendly; what it did, in a few words."""
    _sync_all(store, surveys, now)
    ids = [survey.id for survey in surveys if survey.interview is not None]
    with store.session(write=True) as session:
        interview = _calendly_target(session, ids, event)
        if interview is None:
            return "ignored: no interview matches its reference or email"
        if interview.status in ("declined", "screened_out"):
            return f"ignored: {interview.send_id} {interview.status.replace('_', ' ')}"
        if event.kind == "invitee.created":
            if interview.status == "completed":
                return f"ignored: {interview.send_id} is completed"
            interview.booking_uri = event.invitee_uri
            interview.starts_at = event.starts_at
            interview.booked_at = now
            _set(interview, "booked", now, "calendly")
            return f"booked: {interview.send_id}"
        if (
            event.invitee_uri
            and interview.booking_uri
            and event.invitee_uri != interview.booking_uri
        ):
            return f"ignored: {interview.send_id} has a newer booking"
        if interview.status != "booked":
            return f"ignored: {interview.send_id} is {interview.status.replace('_', ' ')}"
        _set(interview, "cancelled", now, "calendly")
        return f"cancelled: {interview.send_id}"


def _calendly_target(
    session: Session, survey_ids: Sequence[str], event: CalendlyEvent
) -> Interview | None:
    query = select(Interview).where(Interview.survey_id.in_(survey_ids))
    if event.ref:
        found = session.scalar(query.where(Interview.send_id == event.ref))
        if found is not None:
            return found
    if event.email:
        # Schedulers may change an address's case: match it case-insensitively.
        candidates = session.scalars(
            query.where(func.lower(Interview.email) == event.email.strip().lower()).order_by(
                Interview.answered_at.desc()
            )
        ).all()
        for candidate in candidates:
            if candidate.status not in ("declined", "screened_out"):
                return candidate
    return None


def _sync_all(store: Store, surveys: Sequence[Survey], now: datetime) -> None:
    for survey in surveys:
        if survey.interview is not None:
            sync_interviews(store, survey, now)


def interview_list(
    store: Store, survey: Survey, now: datetime, status: str | None = None
) -> list[dict[str, Any]]:
    """Everyone who answered `survey`'s invitation, synced from the answers first, in
    the order they came (`describe` each); `status` (`no-show` or `no_show`) keeps one."""
    sync_interviews(store, survey, now)
    with store.session() as session:
        query = select(Interview).where(Interview.survey_id == survey.id)
        if status:
            query = query.where(Interview.status == status.replace("-", "_"))
        return [describe(row) for row in session.scalars(query.order_by(Interview.id))]


def describe(interview: Interview) -> dict[str, Any]:
    return {
        "ref": interview.send_id,
        "survey": interview.survey_id,
        "contact_key": interview.contact_key,
        "email": interview.email,
        "status": interview.status,
        "consent_sha256": interview.consent_sha256,
        "consent_at": _iso(interview.consent_at),
        "booked_at": _iso(interview.booked_at),
        "starts_at": _iso(interview.starts_at),
        "completed_at": _iso(interview.completed_at),
        "incentive": interview.incentive,
        "incentive_amount": interview.incentive_amount,
        "incentive_currency": interview.incentive_currency,
        "incentive_status": interview.incentive_status,
        "paid_at": _iso(interview.paid_at),
    }


def incentive_rows(store: Store, survey: Survey, now: datetime) -> Iterator[dict[str, Any]]:
    """`cxops export incentives SURVEY`: each incentive owed or paid, with the person's
    total of owed and paid incentives (every study) in the same calendar year."""
    sync_interviews(store, survey, now)
    with store.session() as session:
        rows = session.scalars(
            select(Interview)
            .where(
                Interview.survey_id == survey.id, Interview.incentive_status.in_(("owed", "paid"))
            )
            .order_by(Interview.completed_at, Interview.id)
        ).all()
        emails = {row.email for row in rows}
        totals: dict[tuple[str, int, str | None], float] = {}
        if emails:
            for other in session.scalars(
                select(Interview).where(
                    Interview.email.in_(emails), Interview.incentive_status.in_(("owed", "paid"))
                )
            ):
                year = _year(other)
                key = (other.email, year, other.incentive_currency)
                totals[key] = totals.get(key, 0.0) + (other.incentive_amount or 0.0)
    for row in rows:
        entry = describe(row)
        year = _year(row)
        entry["year"] = year
        entry["person_year_total"] = totals.get((row.email, year, row.incentive_currency), 0.0)
        yield entry


def person_year_total(store: Store, email: str, year: int) -> dict[str, float]:
    """What a person was owed or paid in incentives in `year`, by currency."""
    with store.session() as session:
        found = session.scalars(
            select(Interview).where(
                Interview.email == email, Interview.incentive_status.in_(("owed", "paid"))
            )
        ).all()
    totals: dict[str, float] = {}
    for row in found:
        if _year(row) == year and row.incentive_amount is not None:
            currency = row.incentive_currency or ""
            totals[currency] = totals.get(currency, 0.0) + row.incentive_amount
    return totals


def _year(row: Interview) -> int:
    moment = row.paid_at or row.completed_at or row.updated_at
    return moment.year


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def with_recruitment(summary: Any, store: Store, survey: Survey, wave_id: str) -> Any:
    """A wave summary (`cxops.wave.summary.WaveSummary`) with the study's progress and, when
    the goal was reached while the wave was sending, how many invitations were not sent."""
    import dataclasses

    state = recruitment(store, survey)
    summary = dataclasses.replace(summary, recruitment=state.as_dict())
    skipped = goal_skipped(store, survey.id, wave_id)
    notes = [f"recruitment: {state.line()}"]
    if skipped:
        notes.append(f"interview goal reached during the wave: {skipped} invitations not sent")
    return summary.noted(*notes)
