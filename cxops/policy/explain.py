"""`cxops why EMAIL [SURVEY]`: one person's history and eligibility, line by line, in plain words.

`explain_person` reads the store (every invitation and reminder of the person,
their answers and suppressions) and each survey's source, and runs the same
checks a wave runs: erasure, filter, suppression, `surveyed_within`, the contact cap, the
`policy.yaml` rules and survey priority, each hold with until when it lasts. The person's
ledger rows a gate made wait or skipped (`cxops.store.holds`) are shown with their reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cxops.audience.contacts import BadRow, Contact, normalize_email
from cxops.audience.sources import read_source
from cxops.errors import ConfigError, ExpressionError
from cxops.expr import Evaluator
from cxops.policy.eligibility import build_log
from cxops.policy.evaluate import ContactPolicy, Hold, Reservation
from cxops.policy.priority import reservations_for
from cxops.policy.survey import survey_facts
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store.contact_log import (
    LoggedContact,
    PersonSend,
    PersonSuppression,
    contacts_since,
    person_record,
)
from cxops.store.db import Store
from cxops.store.erasures import ERASED, erased_at
from cxops.store.holds import person_holds
from cxops.store.ledger import MAYBE_SENT
from cxops.wave_labels import scheduled_text

_SUPPRESSED = {
    "unsubscribed": "unsubscribed",
    "spam": "reported an invitation as spam",
    "bounced": "an invitation bounced",
}


@dataclass
class SurveyVerdict:
    survey: str
    wave: str
    in_source: bool = False
    key: str | None = None
    filter_passed: bool | None = None
    holds: list[Hold] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    #: Their ledger rows of this survey a gate holds back or skipped (`person_holds`).
    gated: list[dict[str, Any]] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return self.in_source and self.filter_passed is not False and not self.holds

    def earliest(self) -> datetime | None:
        """When every hold has lifted (None: some hold has no end, or there is none)."""
        if not self.holds or any(hold.until is None for hold in self.holds):
            return None
        return max(hold.until for hold in self.holds if hold.until is not None)

    def as_dict(self) -> dict[str, Any]:
        earliest = self.earliest()
        return {
            "survey": self.survey,
            "wave": self.wave,
            "wave_scheduled": scheduled_text(self.wave),
            "in_source": self.in_source,
            "key": self.key,
            "filter_passed": self.filter_passed,
            "eligible": self.eligible,
            "holds": [
                {
                    "rule": hold.rule,
                    "reason": hold.reason,
                    "until": hold.until.isoformat() if hold.until else None,
                    "detail": hold.detail,
                }
                for hold in self.holds
            ],
            "earliest": earliest.isoformat() if earliest else None,
            "gated": [dict(row) for row in self.gated],
            "lines": list(self.lines),
        }


@dataclass
class Explanation:
    email: str
    now: datetime
    #: When `cxops forget` erased the person (None: never): never contacted again.
    erased_at: datetime | None = None
    history: list[str] = field(default_factory=list)
    surveys: list[SurveyVerdict] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.email} at {_when(self.now)}:", *(f"  {line}" for line in self.history)]
        for verdict in self.surveys:
            out.append(f"{verdict.survey} ({_wave(verdict.wave)}):")
            out.extend(f"  {line}" for line in verdict.lines)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "now": self.now.isoformat(),
            "erased_at": self.erased_at.isoformat() if self.erased_at else None,
            "history": list(self.history),
            "surveys": [verdict.as_dict() for verdict in self.surveys],
        }


def explain_person(
    raw_email: str,
    surveys: Sequence[Survey],
    all_surveys: Sequence[Survey],
    settings: Settings,
    policy: ContactPolicy,
    store: Store | None,
    wave_for: Callable[[Survey], str],
) -> Explanation:
    """Why `raw_email` would or would not be invited by each of `surveys` now.

    `wave_for(survey)` is the id of the survey's wave at now (the wave layer knows).
    """
    email = normalize_email(raw_email)
    if email is None:
        raise ConfigError(f"expected an email address, found {raw_email!r}")
    now = settings.clock()
    explanation = Explanation(email, now)
    sends: list[PersonSend] = []
    suppressions: list[PersonSuppression] = []
    if store is not None:
        sends, suppressions = person_record(store, email)
        with store.engine.connect() as conn:
            explanation.erased_at = erased_at(conn, email, settings.signing_key)
    explanation.history = _history_lines(sends, suppressions, store is not None)
    gated = person_holds(store, email, [survey.id for survey in surveys]) if store else []
    if explanation.erased_at is not None:
        explanation.history.append(
            f"{_when(explanation.erased_at)}  erased on request (cxops forget): "
            "never contacted again by any survey"
        )
    for survey in surveys:
        if explanation.erased_at is not None:
            explanation.surveys.append(_erased_verdict(survey, wave_for(survey)))
            continue
        verdict = _verdict(
            email,
            survey,
            wave_for(survey),
            all_surveys,
            settings,
            policy,
            store,
            sends,
            suppressions,
            now,
        )
        verdict.gated = [row for row in gated if row["survey"] == survey.id]
        verdict.lines[:0] = [_gated_line(row) for row in verdict.gated]
        explanation.surveys.append(verdict)
    return explanation


def _gated_line(row: dict[str, Any]) -> str:
    """One ledger row a gate holds back or skipped, in words."""
    what = "invitation" if row["step"] == 0 else f"reminder {row['step']}"
    where = f"{what} of {_wave(row['wave'])}"
    if row["status"] == "pending":
        until = datetime.fromisoformat(row["until"]) if row["until"] else None
        when = f"until {_when(until)}" if until else "for now"
        return f"{where}: waiting {when} ({row['reason']})"
    return f"{where}: skipped ({row['reason']}), not sent"


def _wave(wave_id: str) -> str:
    """`wave 2026-10-07T0900, scheduled 7 Oct 2026 09:00`: the id is the schedule's
    slot, not a send date (the line's own date says when the message was sent)."""
    slot = scheduled_text(wave_id)
    return f"wave {wave_id}, {slot}" if slot else f"wave {wave_id}"


def _history_lines(
    sends: Sequence[PersonSend], suppressions: Sequence[PersonSuppression], has_store: bool
) -> list[str]:
    if not has_store:
        return ["no store yet: nobody has been invited"]
    lines: list[str] = []
    for send in sends:
        what = "invitation" if send.step == 0 else f"reminder {send.step}"
        counted = send.status in MAYBE_SENT
        status = {
            "sent": "sent",
            "sending": "being sent",
            "in_doubt": "in doubt (it may have arrived)",
            "failed": "failed",
            "pending": "planned, not sent yet",
            "skipped": "skipped",
        }.get(send.status, send.status)
        text = f"{_when(send.at)}  {what} of {send.survey_id} ({_wave(send.wave_id)}): {status}"
        text += "; counts as a contact" if counted else "; does not count as a contact"
        if send.answered is not None and send.answered_at is not None:
            text += f"; answered ({send.answered}) on {_when(send.answered_at)}"
        lines.append(text)
    if not sends:
        lines.append("no invitation or reminder recorded")
    for suppression in suppressions:
        what = _SUPPRESSED.get(suppression.reason, suppression.reason)
        lines.append(
            f"{_when(suppression.at)}  {what} (via {suppression.source}): never invited again"
        )
    return lines


def _erased_verdict(survey: Survey, wave_id: str) -> SurveyVerdict:
    """An erased person is held back by every survey, whatever its source says."""
    verdict = SurveyVerdict(survey.id, wave_id)
    verdict.holds.append(Hold(ERASED, ERASED, None, "erased on request: never contacted again"))
    verdict.lines.append("held back: erased on request; never contacted again")
    verdict.lines.append("not invited now, nor later")
    return verdict


def _verdict(
    email: str,
    survey: Survey,
    wave_id: str,
    all_surveys: Sequence[Survey],
    settings: Settings,
    policy: ContactPolicy,
    store: Store | None,
    sends: Sequence[PersonSend],
    suppressions: Sequence[PersonSuppression],
    now: datetime,
) -> SurveyVerdict:
    verdict = SurveyVerdict(survey.id, wave_id)
    lines = verdict.lines
    contact = _find(survey, settings, email)
    if contact is None:
        lines.append("not in the survey's audience source: never invited by it")
        return verdict
    verdict.in_source, verdict.key = True, contact.key
    lines.append(f"in the audience source as {contact.key} (row {contact.row})")
    if survey.audience.filter is not None:
        survey_info = {"id": survey.id, "name": survey.name, "kind": survey.kind}
        evaluator = Evaluator(now, settings.holidays)
        try:
            passed = evaluator.test(
                survey.audience.filter, {"contact": contact.fields, "survey": survey_info}
            )
        except ExpressionError as exc:
            lines.append(f"the filter fails for this contact ({exc}): skipped as a bad row")
            verdict.filter_passed = False
            return verdict
        verdict.filter_passed = passed
        if not passed:
            lines.append(f"the filter {survey.audience.filter!r} is false: not invited")
            return verdict
        lines.append(f"the filter {survey.audience.filter!r} is true")
    in_wave = [s for s in sends if s.survey_id == survey.id and s.wave_id == wave_id]
    if in_wave:
        lines.append(
            f"already in this wave ({in_wave[0].status}): the wave does not add them again"
        )
    for suppression in suppressions:
        what = _SUPPRESSED.get(suppression.reason, suppression.reason)
        verdict.holds.append(
            Hold(suppression.reason, suppression.reason, None, f"{what}: never invited again")
        )
    verdict.holds += _surveyed_within(survey, sends, wave_id, now)
    verdict.holds += _policy_holds(
        contact, survey, all_surveys, settings, policy, store, wave_id, now
    )
    for hold in verdict.holds:
        until = f"until {_when(hold.until)}" if hold.until else "for as long as it applies"
        lines.append(f"held back: {hold.detail}; {until}")
    if verdict.holds:
        earliest = verdict.earliest()
        lines.append(
            f"not invited now; earliest again {_when(earliest)}" if earliest else "not invited now"
        )
    else:
        lines.append("may be invited now (the wave's sample decides whether they are drawn)")
    return verdict


def _find(survey: Survey, settings: Settings, email: str) -> Contact | None:
    for item in read_source(survey.audience.source, settings.project_dir):
        if not isinstance(item, BadRow) and item.email == email:
            return item
    return None


def _surveyed_within(
    survey: Survey, sends: Sequence[PersonSend], wave_id: str, now: datetime
) -> list[Hold]:
    within = survey.audience.exclude.surveyed_within
    if within is None:
        return []
    since = within.before(now)
    earlier = [
        s
        for s in sends
        if s.survey_id == survey.id
        and s.wave_id != wave_id
        and s.step == 0
        and s.status in MAYBE_SENT
        and s.at >= since
    ]
    if not earlier:
        return []
    last = max(s.at for s in earlier)
    detail = f"invited to this survey on {_when(last)}, within its surveyed_within of {within}"
    return [Hold("surveyed_within", "surveyed_within", last + within.approx_timedelta(), detail)]


def _policy_holds(
    contact: Contact,
    survey: Survey,
    all_surveys: Sequence[Survey],
    settings: Settings,
    policy: ContactPolicy,
    store: Store | None,
    wave_id: str,
    now: datetime,
) -> list[Hold]:
    if policy.empty:
        return []
    window = policy.longest_window()
    entries: list[LoggedContact] = []
    if store is not None and window is not None:
        entries = list(
            contacts_since(
                store,
                now - window,
                skip_wave=(survey.id, wave_id),
                with_fields=bool(policy.per_rules),
            )
        )
    log = build_log(entries, policy, now)
    reservations: list[Reservation] = []
    if window is not None:
        wanted, _ = reservations_for(
            survey, all_surveys, settings.project_dir, now, window, settings.holidays
        )
        reservations = wanted.get(contact.email, [])
    return policy.holds(
        contact.fields,
        log.own(contact.email),
        now,
        group=log.group,
        reservations=reservations,
        priority=survey.priority,
        survey=survey_facts(survey),
        explain=True,
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
