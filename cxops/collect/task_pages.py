"""The task page: `GET /t/{token}` shows the task, the customer and their answer;
`POST /t/{token}` closes it with an outcome and a note (or adds a note, keeping it open).

The token is a signed, expiring `task` token carrying the task's key (no database id).
Tampered: 404; expired: 410; either way nothing changes. A bare GET never changes a task.
The collector app provides its `CollectorState` as `app.state.collector` (settings, the
store, cached surveys); an app without one provides `app.state.settings` and `app.state.store`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from cxops.collect.i18n import strings
from cxops.collect.routes import wants_json
from cxops.errors import CxopsError, TokenError
from cxops.followup.digest import format_local, task_item
from cxops.followup.history import customer_history
from cxops.followup.templates import read_static, render
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
_SAVED = {
    "closed": "The task is closed. Thank you!",
    "note": "Your note is saved; the task stays open.",
}


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


def _page(request: Request, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    values = {
        "outcomes": q.OUTCOMES,
        "max_note": MAX_NOTE,
        "message": None,
        "error": None,
        # The page's own URL, relative (/t/TOKEN), never `action=""`.
        "action": request.url.path.rsplit("/", 1)[-1],
        **context,
    }
    pages = getattr(request.app.state, "pages", None)
    if pages is not None:
        # Inside the collector: its layout, strings and the stylesheet its CSP allows.
        html = pages.render("pages/task.html.j2", "en", **values)
    else:
        settings = _settings(request)
        css = read_static(settings.project_dir, "pages/collector.css").strip()
        values.update(lang="en", t=strings("en"), page_css=Markup(css))
        html = render(settings.project_dir, "pages/task.html.j2", values)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _problem(request: Request, status: int, title: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": title}, status_code=status, headers=_HEADERS)
    body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>Nothing was changed.</p>"
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _lookup(request: Request, token: str) -> q.TaskView | Response:
    settings = _settings(request)
    try:
        key = read_token(settings.signing_key(), "task", token, settings.clock())
    except TokenError as exc:
        if exc.expired:
            return _problem(request, 410, "This link has expired")
        return _problem(request, 404, "Page not found")
    with _store(request).session() as session:
        view = q.find_task_by_key(session, key)
    if view is None:
        return _problem(request, 404, "Page not found")
    return view


def _context(request: Request, view: q.TaskView) -> dict[str, Any]:
    settings = _settings(request)
    survey = _survey(request, view.task.survey_id)
    item = task_item(view, survey, settings.clock(), str(request.url))
    timezone = survey.timezone if survey else "UTC"
    surveys = project_surveys(settings.surveys_path, settings.project_dir, checks=False).surveys
    return {
        "item": item,
        "answered": format_local(view.answered_at, timezone),
        "outcome": view.task.outcome,
        "note": view.task.note,
        "history": customer_history(_store(request), surveys, view, timezone),
        "steps": [
            (index, text, index in (view.task.steps_done or []))
            for index, text in enumerate(view.task.steps or [])
        ],
    }


def _json(view: q.TaskView) -> dict[str, Any]:
    task = view.task
    return {
        "status": task.status,
        "outcome": task.outcome,
        "note": task.note,
        "title": task.title,
        "due": task.due_at.isoformat(),
    }


@router.get("/t/{token}", response_model=None)
def task_page(request: Request, token: str, saved: str | None = None) -> Response:
    found = _lookup(request, token)
    if isinstance(found, Response):
        return found
    if wants_json(request):
        return JSONResponse(_json(found), headers=_HEADERS)
    return _page(request, {**_context(request, found), "message": _SAVED.get(saved or "")})


@router.post("/t/{token}", response_model=None)
def task_action(
    request: Request,
    token: str,
    action: Annotated[str, Form()] = "close",
    outcome: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
    step: Annotated[list[int] | None, Form()] = None,
) -> Response:
    found = _lookup(request, token)
    ticked = step or []
    if isinstance(found, Response):
        return found
    settings = _settings(request)
    error: str | None = None
    status = 200
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        error, status = f"The note is longer than {MAX_NOTE} characters.", 422
    elif action == "note" and not note:
        error, status = "Write a note first.", 422
    elif action == "close" and outcome not in q.OUTCOMES:
        error, status = f"Choose an outcome: {', '.join(q.OUTCOMES)}.", 422
    elif action not in ("close", "note"):
        error, status = "Unknown action.", 422
    else:
        try:
            with _store(request).session(write=True) as session:
                if action == "close":
                    q.close_task(
                        session, found.task.id, outcome or "", note, settings.clock(), ticked
                    )
                else:
                    q.add_note(session, found.task.id, note, settings.clock(), ticked)
        except q.StepsOpenError as exc:
            error, status = str(exc), 422
            with _store(request).session(write=True) as session:
                q.save_steps(session, found.task.id, ticked)
        except q.TaskClosedError:
            error, status = f"This task is already {found.task.status}; nothing was changed.", 409
        except CxopsError as exc:
            error, status = str(exc), 422
    if error is None:
        with _store(request).session() as session:
            found = q.get_task(session, found.task.id)
        if wants_json(request):
            return JSONResponse(_json(found), headers=_HEADERS)
        saved = "closed" if action == "close" else "note"
        return RedirectResponse(
            f"{request.url.path}?saved={saved}", status_code=303, headers=_HEADERS
        )
    if wants_json(request):
        return JSONResponse({"error": error}, status_code=status, headers=_HEADERS)
    with _store(request).session() as session:
        found = q.get_task(session, found.task.id)
    return _page(request, {**_context(request, found), "error": error}, status)
