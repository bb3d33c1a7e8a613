"""The store work of the unsubscribe page: who a link names, unsubscribe, resubscribe.

Each function runs in a worker thread (`CollectorState.run_db`) and returns the masked
page's inputs: the address and the contact's resolved locale.
"""

from __future__ import annotations

from cxops.collect.state import CollectorState
from cxops.errors import NotFoundError
from cxops.spec.texts import resolve
from cxops.store.responses import find_send
from cxops.store.suppressions import lift_unsubscribe, suppress, suppression_reason


def resolved_locale(state: CollectorState, survey_id: str, requested: str) -> str:
    """`requested` resolved against the survey's locales (en when the survey is gone)."""
    survey = state.survey(survey_id)
    return resolve(requested, survey.invitation.locales if survey else ["en"])


def unsubscribe_target(state: CollectorState, send_id: str) -> tuple[str, str, bool]:
    """The address, locale, and whether it is unsubscribed already."""
    with state.store().session() as session:
        send = find_send(session, send_id)
        if send is None:
            raise NotFoundError("no such invitation")
        done = suppression_reason(session, send.email) == "unsubscribed"
        return send.email, resolved_locale(state, send.survey_id, send.locale), done


def unsubscribe(state: CollectorState, send_id: str) -> tuple[str, str]:
    with state.store().session(write=True) as session:
        send = find_send(session, send_id)
        if send is None:
            raise NotFoundError("no such invitation")
        suppress(
            session,
            send.email,
            "unsubscribed",
            source="collector",
            now=state.now(),
            detail=f"survey {send.survey_id}",
        )
        return send.email, resolved_locale(state, send.survey_id, send.locale)


def resubscribe(state: CollectorState, send_id: str) -> tuple[str, str]:
    with state.store().session(write=True) as session:
        send = find_send(session, send_id)
        if send is None:
            raise NotFoundError("no such invitation")
        lift_unsubscribe(session, send.email)
        return send.email, resolved_locale(state, send.survey_id, send.locale)
