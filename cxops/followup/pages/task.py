"""The task page: `GET /t/{token}` shows the task, the customer and their answer;
`POST /t/{token}` closes it with an outcome and a note (or adds a note, keeping it open),
reassigns it (the new assignee told by one email, this link dead for closing) or snoozes it.

The token is a signed, expiring `task` token carrying the task's key (no database id).
Tampered: 404; expired: 410; either way nothing changes. A bare GET never changes a task.
The collector app provides its `CollectorState` as `app.state.collector` (settings, the
store, cached surveys); an app without one provides `app.state.settings` and `app.state.store`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from cxops.audience.contacts import normalize_email
from cxops.channels import make_channel
from cxops.collect.i18n import message, page_locale, strings
from cxops.collect.routes import wants_json
from cxops.errors import CxopsError, TokenError
from cxops.followup.digest import format_local, task_item
from cxops.followup.history import customer_history
from cxops.followup.pages.task_strings import category_words, task_strings
from cxops.followup.tasks import Assigned, assign_task, parse_until, snooze_task
from cxops.followup.templates import read_static, render
from cxops.followup.wording import event_lines, page_item
from cxops.messages.tokens import read_token
from cxops.settings import Settings
from cxops.spec.lookup import project_surveys
from cxops.spec.models import Survey
from cxops.store import tasks as q
from cxops.store.db import Store

router = APIRouter()

MAX_NOTE = 5000
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
_ACTIONS = ("close", "note", "reassign", "snooze")


def _settings(request: Request) -> Settings:
    collector = getattr(request.app.state, "collector", None)
    settings: Settings = collector.settings if collector is not None else request.app.state.settings
    return settings


def _store(request: Request) -> Store:
    collector = getattr(request.app.state, "collector", None)
    store: Store = collector.store() if collector is not None else request.app.state.store
    return store


def _survey(request: Request, survey_id: str) -> Survey | None:
    collector = getattr(request.app.state, "collector", None)
    if collector is not None:
        survey: Survey | None = collector.survey(survey_id)
        return survey
    settings = _settings(request)
    return project_surveys(settings.surveys_path, settings.project_dir).surveys.get(survey_id)


def _lang(request: Request, chosen: str | None = None) -> str:
    """`chosen` (the form's), else `?lang=`, else the browser's first language, else `en`."""
    asked = chosen or request.query_params.get("lang") or request.headers.get("accept-language")
    return page_locale((asked or "").split(",")[0].split(";")[0].strip() or None)


def _page(request: Request, lang: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    values = {
        "outcomes": q.OUTCOMES,
        "max_note": MAX_NOTE,
        "message": None,
        "error": None,
        "actions": True,
        "entered": {"action": "", "note": "", "assignee": "", "until": ""},
        # The page's own URL, relative (/t/TOKEN), never `action=""`.
        "action": request.url.path.rsplit("/", 1)[-1],
        "s": task_strings(lang),
        "categories": category_words(lang),
        "lang_param": lang,
        **context,
    }
    return _render(request, lang, "pages/task.html.j2", values, status)


def _render(
    request: Request, lang: str, template: str, values: dict[str, Any], status: int
) -> HTMLResponse:
    """`template` in the site's layout (`pages/base.html.j2`), with the collector's
    strings and the stylesheet its CSP allows; also in an app without a collector."""
    pages = getattr(request.app.state, "pages", None)
    if pages is not None:
        html = pages.render(template, lang, **values)
    else:
        settings = _settings(request)
        css = read_static(settings.project_dir, "pages/collector.css").strip()
        html = render(
            settings.project_dir,
            template,
            {**values, "lang": lang, "t": strings(lang), "page_css": Markup(css)},
        )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _problem(
    request: Request, lang: str, status: int, kind: str, body: str | None = None
) -> Response:
    """A refused link as a page of the site (layout, viewport, language), or JSON."""
    title = message(lang, f"{kind}_title")
    if wants_json(request):
        return JSONResponse({"error": title}, status_code=status, headers=_HEADERS)
    values = {"title": title, "body": body or message(lang, f"{kind}_body")}
    return _render(request, lang, "pages/error.html.j2", values, status)


def _moved(request: Request, lang: str, view: q.TaskView) -> Response:
    """An earlier assignee's link: the task was reassigned; say to whom (410, nothing changes)."""
    s = task_strings(lang)
    if wants_json(request):
        body = {"error": s["moved_title"], "assignee": view.task.assignee}
        return JSONResponse(body, status_code=410, headers=_HEADERS)
    values = {
        "title": s["moved_title"],
        "body": s["moved_body"].format(title=view.task.title, assignee=view.task.assignee),
    }
    return _render(request, lang, "pages/error.html.j2", values, 410)


def _lookup(request: Request, token: str, lang: str) -> q.TaskView | Response:
    settings = _settings(request)
    try:
        key = read_token(settings.signing_key(), "task", token, settings.clock())
    except TokenError as exc:
        if exc.expired:
            return _problem(request, lang, 410, "expired")
        return _problem(request, lang, 404, "not_found")
    with _store(request).session() as session:
        view = q.find_task_by_key(session, key)
        moved = q.find_task_by_key(session, key, any_assignment=True) if view is None else None
    if moved is not None:
        return _moved(request, lang, moved)
    if view is None:
        return _problem(request, lang, 404, "not_found")
    return view


def _timezone(request: Request, view: q.TaskView) -> str:
    survey = _survey(request, view.task.survey_id)
    return survey.timezone if survey else "UTC"


def _context(request: Request, view: q.TaskView, lang: str) -> dict[str, Any]:
    settings = _settings(request)
    survey = _survey(request, view.task.survey_id)
    now = settings.clock()
    words = task_strings(lang)
    item = page_item(
        task_item(view, survey, now, str(request.url)),
        survey,
        view.answers,
        view.task.context or {},
        view.contact,
        lang,
        words,
        now,
    )
    timezone = _timezone(request, view)
    surveys = project_surveys(settings.surveys_path, settings.project_dir, checks=False).surveys
    snoozed = view.task.snoozed_until if q.is_snoozed(view.task, now) else None
    tomorrow = now.astimezone(ZoneInfo(timezone)).date() + timedelta(days=1)
    return {
        "item": item,
        "answered": format_local(view.answered_at, timezone),
        "outcome": view.task.outcome,
        "notes": event_lines(view.task.events, view.task.note, timezone, words),
        "history": customer_history(_store(request), surveys, view, timezone, lang),
        "steps": [
            (index, text, index in (view.task.steps_done or []))
            for index, text in enumerate(view.task.steps or [])
        ],
        "timezone": timezone,
        "snoozed_until": format_local(snoozed, timezone) if snoozed else None,
        "earliest_snooze": tomorrow.isoformat(),
    }


def _json(view: q.TaskView) -> dict[str, Any]:
    task = view.task
    return {
        "status": task.status,
        "outcome": task.outcome,
        "note": task.note,
        "title": task.title,
        "due": task.due_at.isoformat(),
        "assignee": task.assignee,
        "snoozed_until": task.snoozed_until.isoformat() if task.snoozed_until else None,
    }


@router.get("/t/{token}", response_model=None)
def task_page(request: Request, token: str, saved: str | None = None) -> Response:
    lang = _lang(request)
    found = _lookup(request, token, lang)
    if isinstance(found, Response):
        return found
    if wants_json(request):
        return JSONResponse(_json(found), headers=_HEADERS)
    context = _context(request, found, lang)
    s = task_strings(lang)
    notice = {
        "closed": s["saved_closed"],
        "note": s["saved_note"],
        "snoozed": s["saved_snoozed"].format(until=context["snoozed_until"]),
    }
    return _page(request, lang, {**context, "message": notice.get(saved or "")})


class _Refused(Exception):
    """A form value the page refuses before anything changes: its message and status."""

    def __init__(self, text: str, status: int = 422):
        super().__init__(text)
        self.text, self.status = text, status


@router.post("/t/{token}", response_model=None)
def task_action(
    request: Request,
    token: str,
    action: Annotated[str, Form()] = "close",
    outcome: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
    step: Annotated[list[int] | None, Form()] = None,
    assignee: Annotated[str | None, Form()] = None,
    until: Annotated[str | None, Form()] = None,
    lang: Annotated[str | None, Form()] = None,
) -> Response:
    lang = _lang(request, lang)
    s = task_strings(lang)
    found = _lookup(request, token, lang)
    if isinstance(found, Response):
        return found
    note = (note or "").strip()
    # What the person typed comes back with a refusal, so they correct it instead of retyping.
    entered = {
        "action": action,
        "note": note,
        "assignee": (assignee or "").strip(),
        "until": (until or "").strip(),
    }
    try:
        if action not in _ACTIONS:
            raise _Refused(s["unknown_action"])
        if len(note) > MAX_NOTE:
            raise _Refused(s["too_long"].format(max=MAX_NOTE))
        if action == "reassign":
            return _reassign(request, lang, found, entered["assignee"], note)
        if action == "snooze":
            _snooze(request, lang, found, entered["until"], note)
        else:
            _close_or_note(request, lang, found, action, outcome, note, step or [])
    except _Refused as refused:
        return _refused(request, lang, found, entered, refused.text, refused.status)
    except q.StepsOpenError:
        with _store(request).session() as session:
            missing = q.open_steps(q.get_task(session, found.task.id).task)
        return _refused(
            request, lang, found, entered, s["steps_open"].format(steps="; ".join(missing)), 422
        )
    except q.TaskMovedError:
        return _refused(request, lang, found, entered, s["moved"], 409)
    except q.TaskClosedError:
        with _store(request).session() as session:
            status = q.get_task(session, found.task.id).task.status
        return _refused(request, lang, found, entered, s["already"].format(status=s[status]), 409)
    except CxopsError as exc:
        return _refused(request, lang, found, entered, str(exc), 422)
    if wants_json(request):
        with _store(request).session() as session:
            return JSONResponse(_json(q.get_task(session, found.task.id)), headers=_HEADERS)
    saved = {"close": "closed", "snooze": "snoozed"}.get(action, action)
    return RedirectResponse(
        f"{request.url.path}?{urlencode({'saved': saved, 'lang': lang})}",
        status_code=303,
        headers=_HEADERS,
    )


def _close_or_note(
    request: Request,
    lang: str,
    view: q.TaskView,
    action: str,
    outcome: str | None,
    note: str,
    ticked: list[int],
) -> None:
    s = task_strings(lang)
    if action == "note" and not note:
        raise _Refused(s["note_first"])
    if action == "close" and outcome not in q.OUTCOMES:
        raise _Refused(s["choose"].format(outcomes=", ".join(s[o] for o in q.OUTCOMES)))
    now = _settings(request).clock()
    try:
        with _store(request).session(write=True) as session:
            if action == "close":
                q.close_task(session, view.task.id, outcome or "", note, now, ticked)
            else:
                q.add_note(session, view.task.id, note, now, ticked)
    except q.StepsOpenError:
        with _store(request).session(write=True) as session:
            q.save_steps(session, view.task.id, ticked)
        raise


def _snooze(request: Request, lang: str, view: q.TaskView, until: str, note: str) -> None:
    """Snooze through the CLI's service (`parse_until`: a day's start in the survey's zone)."""
    s = task_strings(lang)
    settings = _settings(request)
    timezone = _timezone(request, view)
    now = settings.clock()
    try:
        moment = parse_until(until, timezone)
    except CxopsError:
        raise _Refused(s["bad_date"]) from None
    if moment <= now:
        raise _Refused(s["past_date"].format(today=format_local(now, timezone)[:10]))
    snooze_task(settings, _store(request), view.task.id, until, note, now)


def _reassign(request: Request, lang: str, view: q.TaskView, email: str, note: str) -> Response:
    """Reassign through the CLI's service: one email to the new assignee, claimed first.

    The reply is the page itself, not a redirect: this link no longer names the task.
    """
    s = task_strings(lang)
    address = normalize_email(email)
    if address is None:
        raise _Refused(s["bad_email"].format(value=email))
    if address == view.task.assignee:
        raise _Refused(s["same_assignee"].format(value=address))
    settings = _settings(request)
    channel = make_channel(settings)
    try:
        result: Assigned = assign_task(
            settings,
            _store(request),
            channel,
            view.task.id,
            email,
            note,
            settings.clock(),
            expected=view.task.assignment,
        )
    finally:
        channel.close()
    if wants_json(request):
        return JSONResponse({"status": "open", **result.as_dict()}, headers=_HEADERS)
    told = s.get(f"told_{result.told}") or s["told_other"].format(status=result.told)
    text = " ".join((s["reassigned"].format(assignee=result.assignee), told, s["link_dead"]))
    with _store(request).session() as session:
        moved = q.get_task(session, view.task.id)
    return _page(
        request, lang, {**_context(request, moved, lang), "message": text, "actions": False}
    )


def _refused(
    request: Request,
    lang: str,
    view: q.TaskView,
    entered: dict[str, str],
    error: str,
    status: int,
) -> Response:
    if wants_json(request):
        return JSONResponse({"error": error}, status_code=status, headers=_HEADERS)
    with _store(request).session() as session:
        fresh = q.get_task(session, view.task.id)
    context = {**_context(request, fresh, lang), "error": error, "entered": entered}
    return _page(request, lang, context, status)
