"""The customer-facing routes: answer pages, unsubscribe, the honeypot, health, the script.

Handlers are thin: read the token, load the send and its survey, call the pure
answer parser and the store, render. Store work runs in the thread pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import FormData

from cxops.collect import subscriptions
from cxops.collect.answers import (
    FormQuestion,
    ParsedAnswers,
    form_questions,
    form_values,
    parse_answers,
)
from cxops.collect.clients import client_hash
from cxops.collect.i18n import message
from cxops.collect.pages import mask_email, question_text, question_views
from cxops.collect.state import CollectorState
from cxops.errors import CxopsError, NotFoundError, TokenError
from cxops.interviews.screen import interview_answers, thanks_view
from cxops.messages.tokens import read_token
from cxops.spec.models import Survey
from cxops.spec.texts import resolve, title_for
from cxops.store.responses import (
    AnsweringSend,
    AnswerUpdate,
    SavedResponse,
    find_send,
    mark_honeypot,
    read_response,
    record_answers,
)
from cxops.store.sql import session_insert

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store"}
SCRIPT_PATH = "/assets/answer.js"
#: Reading a token "at" this moment checks its signature but not its expiry.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Invitation:
    """A send, its survey and what was answered so far."""

    send: AnsweringSend
    survey: Survey
    questions: list[FormQuestion]
    #: The answers stored so far (None before the first).
    stored: dict[str, Any] | None
    #: A person confirmed the stored answers (False: none yet, or provisional).
    confirmed: bool = False

    @property
    def locale(self) -> str:
        """The contact's locale resolved against the survey's (docs/behaviour.md, "Languages")."""
        return resolve(self.send.locale, self.survey.invitation.locales)

    @property
    def title(self) -> str:
        survey = self.survey
        return title_for(survey.title, survey.kind, self.locale, survey.invitation.locales)


def collector(request: Request) -> CollectorState:
    state: CollectorState = request.app.state.collector
    return state


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def _subject(request: Request, purpose: str, token: str) -> str:
    """The send id of a valid token. An expired one still names its send (its signature
    holds), so the expired page speaks the contact's language."""
    state = collector(request)
    try:
        return read_token(state.signing_key, purpose, token, state.now())
    except TokenError as exc:
        if exc.expired:
            send_id = read_token(state.signing_key, purpose, token, _EPOCH)
            locale = await state.run_db(_send_locale, state, send_id)
            if locale is not None:
                request.state.locale = locale
        raise


def _send_locale(state: CollectorState, send_id: str) -> str | None:
    """The resolved locale of send `send_id`, None when unknown."""
    with state.store().session() as session:
        send = find_send(session, send_id)
        if send is None:
            return None
        survey = state.survey(send.survey_id)
        return resolve(send.locale, survey.invitation.locales if survey else ["en"])


def _load_invitation(state: CollectorState, send_id: str) -> Invitation:
    send, stored, confirmed = read_response(state.store(), send_id)
    survey = state.survey(send.survey_id)
    if survey is None:
        raise NotFoundError("the survey of this invitation is gone")
    return Invitation(send, survey, state.questions(survey, form_questions), stored, confirmed)


def _fields(form: FormData | Mapping[str, Any]) -> dict[str, list[str]]:
    getlist = getattr(form, "getlist", None)
    fields: dict[str, list[str]] = {}
    for key in form:
        values = getlist(key) if getlist else [form[key]]
        fields[key] = [value for value in values if isinstance(value, str)]
    return fields


def _texts(state: CollectorState, invitation: Invitation) -> dict[str, str]:
    send, survey = invitation.send, invitation.survey
    context = {
        "contact": send.contact or {},
        "segment": send.segment,
        "survey": {"id": survey.id, "name": survey.name, "title": invitation.title},
    }
    return {
        question.id: question_text(
            question.text,
            context,
            state.now(),
            f"{survey.id}.{question.id}",
            locale=invitation.locale,
            declared=survey.invitation.locales,
        )
        for question in invitation.questions
        if question.text
    }


def _answer_page(
    request: Request,
    token: str,
    invitation: Invitation,
    values: Mapping[str, list[str]],
    parsed: ParsedAnswers | None,
    *,
    autosave: list[str],
    confirmed: bool,
    status_code: int = 200,
) -> HTMLResponse:
    state = collector(request)
    locale = invitation.locale
    views = question_views(
        invitation.questions,
        values,
        parsed.errors if parsed else {},
        locale=locale,
        texts=_texts(state, invitation),
        interview=invitation.survey.interview,
        declared=invitation.survey.invitation.locales,
    )
    html = request.app.state.pages.render(
        "pages/answer.html.j2",
        locale,
        survey_name=invitation.title,
        # The survey's texts are in the contact's locale even where the page's own
        # words fall back to English (pages speak en, de, fr): `lang` says so.
        text_lang=locale,
        questions=views,
        errors=bool(parsed and parsed.errors),
        action=token,
        autosave=" ".join(autosave),
        confirmed=confirmed,
        provisional=bool(invitation.stored) and not confirmed,
        script_url="../assets/answer.js",
    )
    return HTMLResponse(html, status_code=status_code, headers=NO_STORE)


@router.get("/a/{token}")
async def answer_page(request: Request, token: str) -> Response:
    """The survey page; a score from the email's link is preselected, never recorded here."""
    state = collector(request)
    send_id = await _subject(request, "answer", token)
    invitation = await state.run_db(_load_invitation, state, send_id)
    request.state.locale = invitation.locale
    stored = form_values(invitation.stored) if invitation.stored else {}
    query = _fields(request.query_params)
    preselected = parse_answers(invitation.questions, query, partial=True).values
    if invitation.survey.interview is not None and preselected.get("accepted") is False:
        return _decline_page(request, token, invitation)
    chosen = form_values(preselected)
    changed = [key for key, value in chosen.items() if stored.get(key) != value]
    if invitation.confirmed:
        # The on-load save is provisional and would not change what a person confirmed:
        # a new choice from the link counts on their first tap or key, and an interview's
        # answer changes only by the form's submit (which runs the screener again).
        autosave: list[str] = []
        confirmed = not changed or invitation.survey.interview is not None
    else:
        autosave, confirmed = changed, False
    return _answer_page(
        request,
        token,
        invitation,
        {**stored, **chosen},
        None,
        autosave=autosave,
        confirmed=confirmed,
    )


def _decline_page(request: Request, token: str, invitation: Invitation) -> HTMLResponse:
    """The interview's "No, thanks" link: the decline in words, a button that confirms it
    (the form's submit) and one to take part after all. The page's script saves the
    decline provisionally on load, as for any one-click answer: a scanner opts nobody out."""
    stored = invitation.stored or {}
    declined = stored.get("accepted") is False and stored.get("screened_out") is not True
    html = request.app.state.pages.render(
        "pages/decline.html.j2",
        invitation.locale,
        survey_name=invitation.title,
        text_lang=invitation.locale,
        action=token,
        done=invitation.confirmed and declined,
        autosave="" if invitation.confirmed else "accepted",
        script_url="../assets/answer.js",
    )
    return HTMLResponse(html, headers=NO_STORE)


@router.post("/a/{token}")
async def submit_answers(request: Request, token: str) -> Response:
    """Record answers (partial from the page's script, complete from the submit button)."""
    state = collector(request)
    send_id = await _subject(request, "answer", token)
    form = await request.form()
    try:
        fields = _fields(form)
    finally:
        await form.close()
    partial = fields.get("_partial") == ["1"]
    # The page's script adds `_confirm` only on a trusted pointer or key event.
    interacted = partial and fields.get("_confirm") == ["1"]
    client = client_hash(request, state.signing_key)
    invitation, parsed, saved = await state.run_db(
        _submit, state, send_id, fields, partial, interacted, client
    )
    locale = request.state.locale = invitation.locale
    if wants_json(request):
        body: dict[str, Any] = {
            "status": saved.status if saved else None,
            "revision": saved.revision if saved else None,
            "answers": saved.answers if saved else {},
            "confirmed": saved.confirmed if saved else False,
        }
        if not parsed.ok:
            body["errors"] = {
                key: message(locale, f"error.{error.code}", **error.params)
                for key, error in parsed.errors.items()
            }
        return JSONResponse(body, status_code=200 if parsed.ok else 422, headers=NO_STORE)
    if partial or not parsed.ok:
        shown = {**(form_values(saved.answers) if saved else {}), **fields}
        return _answer_page(
            request,
            token,
            invitation,
            shown,
            parsed,
            autosave=[],
            confirmed=bool(saved and saved.confirmed),
            status_code=200 if parsed.ok else 422,
        )
    answers = saved.answers if saved else {}
    html = request.app.state.pages.render(
        "pages/thanks.html.j2",
        locale,
        survey_name=invitation.title,
        edit_url=token,
        **thanks_view(invitation.survey, invitation.send.send_id, answers),
    )
    return HTMLResponse(html, headers=NO_STORE)


def _submit(
    state: CollectorState,
    send_id: str,
    fields: dict[str, list[str]],
    partial: bool,
    interacted: bool,
    client: str | None = None,
) -> tuple[Invitation, ParsedAnswers, SavedResponse | None]:
    """Parse and store (the send is read once, by the store's save)."""
    seen: dict[str, Any] = {}

    def decide(send: AnsweringSend) -> AnswerUpdate | None:
        survey = state.survey(send.survey_id)
        if survey is None:
            raise NotFoundError("the survey of this invitation is gone")
        questions = state.questions(survey, form_questions)
        parsed = parse_answers(questions, fields, partial=partial)
        seen["invitation"] = Invitation(send, survey, questions, None)
        seen["parsed"] = parsed
        if partial and not parsed.values:
            return None
        values = parsed.values
        if parsed.ok and not partial:
            values = interview_answers(  # consent, screener
                survey, values, state.now(), seen["invitation"].locale
            )
        return AnswerUpdate(
            values,
            complete=parsed.ok and not partial,
            # An interview's complete answer changes only by a submit: it is screened.
            unless_complete=not parsed.ok or (partial and survey.interview is not None),
            # The form's submit is a person's; the script's save only with a real event.
            confirm=not partial or interacted,
            interacted=interacted,
            client=client,
        )

    saved = record_answers(state.store(), send_id, decide, now=state.now())
    return seen["invitation"], seen["parsed"], saved


@router.get("/u/{token}")
async def unsubscribe_page(request: Request, token: str) -> Response:
    """A page with one button; a GET changes nothing."""
    state = collector(request)
    send_id = await _subject(request, "unsubscribe", token)
    email, locale, done = await state.run_db(subscriptions.unsubscribe_target, state, send_id)
    request.state.locale = locale
    html = request.app.state.pages.render(
        "pages/unsubscribe.html.j2",
        locale,
        email=mask_email(email),
        done=done,
        resubscribed=False,
        action=token,
    )
    return HTMLResponse(html, headers=NO_STORE)


@router.post("/u/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    """RFC 8058 one-click (`List-Unsubscribe=One-Click`) or the page's button: at once.

    The unsubscribed page offers a way back for a mistaken click: its `resubscribe=yes`
    POST on the same token, while the link lives, lifts this unsubscribe (a bounce or a
    spam report stays). Nothing else undoes an unsubscribe.
    """
    state = collector(request)
    send_id = await _subject(request, "unsubscribe", token)
    form = await request.form()
    try:
        resubscribe = form.get("resubscribe") == "yes"
    finally:
        await form.close()
    if resubscribe:
        email, locale = await state.run_db(subscriptions.resubscribe, state, send_id)
    else:
        email, locale = await state.run_db(subscriptions.unsubscribe, state, send_id)
    request.state.locale = locale
    if wants_json(request):
        return JSONResponse({"unsubscribed": not resubscribe}, headers=NO_STORE)
    html = request.app.state.pages.render(
        "pages/unsubscribe.html.j2",
        locale,
        email=mask_email(email),
        done=not resubscribe,
        resubscribed=resubscribe,
        action=token,
    )
    return HTMLResponse(html, headers=NO_STORE)


@router.api_route("/h/{token}", methods=["GET", "HEAD"])
async def honeypot(request: Request, token: str) -> Response:
    """The hidden link no person sees: whoever fetches it is a machine."""
    state = collector(request)
    send_id = await _subject(request, "honeypot", token)
    client = client_hash(request, state.signing_key)
    found = await state.run_db(mark_honeypot, state.store(), send_id, state.now(), client)
    if not found:
        raise NotFoundError("no such invitation")
    return PlainTextResponse("", headers=NO_STORE)


def _check_database(state: CollectorState) -> None:
    """A real write, committed: a store that reads but cannot write is not healthy."""
    from cxops.store.models import HealthCheck

    with state.store().session(write=True) as session:
        now = state.now()
        # One statement: two first checks at once on a fresh store must not both insert.
        session.execute(
            session_insert(session, HealthCheck.__table__)
            .values(id=1, checked_at=now)
            .on_conflict_do_update(index_elements=["id"], set_={"checked_at": now})
        )


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 when the store takes a write, 503 otherwise."""
    try:
        await collector(request).run_db(_check_database, collector(request))
    except (SQLAlchemyError, CxopsError):
        return JSONResponse({"status": "unavailable", "database": "error"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"}, headers=NO_STORE)


@router.get(SCRIPT_PATH)
async def answer_script(request: Request) -> Response:
    """The answer page's script (same origin, so the CSP needs no inline script)."""
    return Response(
        request.app.state.answer_script,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )
