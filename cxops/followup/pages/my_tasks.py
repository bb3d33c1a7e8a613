"""One assignee's task list, `/m/{token}`: a signed link per assignee (in the digest).

The page lists the assignee's tasks (theirs only: the token names them), overdue first,
filtered by status, survey and priority through a plain GET form, and closes a task
with an outcome and a note through one POST form per task. No script: it works with
the keyboard and without JavaScript, under the collector's CSP; English, German and
French (`?lang=`, else the browser's `Accept-Language`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cxops.collect.i18n import page_locale
from cxops.collect.state import CollectorState
from cxops.errors import CxopsError, NotFoundError, TokenError
from cxops.followup.digest import TaskItem
from cxops.followup.links import task_link
from cxops.followup.pages.task_strings import ITEM_WORDS, STORED_WORDS, category_words
from cxops.followup.tasks import (
    LIST_STATUSES,
    PRIORITIES,
    ListedTask,
    assignee_for_ref,
    assignee_tasks,
    close_assignee_task,
)
from cxops.followup.wording import page_item, survey_label
from cxops.messages.tokens import read_token
from cxops.spec.models import Survey
from cxops.store.tasks import OUTCOMES, StatusFilter, StepsOpenError, TaskClosedError, TaskView

router = APIRouter()

MAX_NOTE = 5000
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}

_EN = {
    "title": "Your tasks",
    "heading": "Tasks of {assignee}",
    "filters": "Filter",
    "status": "Status",
    "survey": "Survey",
    "priority": "Priority",
    "any": "any",
    "apply": "Show",
    "count": "{n} tasks",
    "count_one": "{n} task",
    "none": "No tasks match.",
    "overdue": "Overdue",
    "snoozed": "Snoozed until {until}",
    "due": "due {due}",
    "customer": "Customer",
    "open_task": "Open the task page",
    "outcome": "Outcome",
    "note": "Note",
    "close": "Close the task",
    "closed": "Task closed. Thank you!",
    "already": "This task is already closed; nothing was changed.",
    "choose": "Choose an outcome.",
    "too_long": "The note is longer than {max} characters.",
    "s_open": "open",
    "s_overdue": "overdue",
    "s_snoozed": "snoozed",
    "s_done": "closed",
    "s_all": "all",
    "s_withdrawn": "withdrawn",
    "steps_open": "Before “resolved”, tick every step of the playbook or say in the note why not.",
    "playbook": "Playbook",
    **STORED_WORDS["en"],
    **ITEM_WORDS["en"],
}
_DE = {
    "title": "Ihre Aufgaben",
    "heading": "Aufgaben von {assignee}",
    "filters": "Filter",
    "status": "Status",
    "survey": "Umfrage",
    "priority": "Priorität",
    "any": "alle",
    "apply": "Anzeigen",
    "count": "{n} Aufgaben",
    "count_one": "{n} Aufgabe",
    "none": "Keine passenden Aufgaben.",
    "overdue": "Überfällig",
    "snoozed": "Zurückgestellt bis {until}",
    "due": "fällig {due}",
    "customer": "Kunde",
    "open_task": "Aufgabenseite öffnen",
    "outcome": "Ergebnis",
    "note": "Notiz",
    "close": "Aufgabe abschließen",
    "closed": "Aufgabe abgeschlossen. Danke!",
    "already": "Diese Aufgabe ist bereits abgeschlossen; nichts wurde geändert.",
    "choose": "Bitte wählen Sie ein Ergebnis.",
    "too_long": "Die Notiz ist länger als {max} Zeichen.",
    "s_open": "offen",
    "s_overdue": "überfällig",
    "s_snoozed": "zurückgestellt",
    "s_done": "abgeschlossen",
    "s_all": "alle",
    "s_withdrawn": "zurückgezogen",
    "steps_open": "Haken Sie vor „gelöst“ jeden Schritt der Checkliste ab oder schreiben Sie in die Notiz, warum nicht.",
    "playbook": "Checkliste",
    **STORED_WORDS["de"],
    **ITEM_WORDS["de"],
}
_FR = {
    "title": "Vos tâches",
    "heading": "Tâches de {assignee}",
    "filters": "Filtrer",
    "status": "Statut",
    "survey": "Enquête",
    "priority": "Priorité",
    "any": "toutes",
    "apply": "Afficher",
    "count": "{n} tâches",
    "count_one": "{n} tâche",
    "none": "Aucune tâche ne correspond.",
    "overdue": "En retard",
    "snoozed": "Reportée jusqu’au {until}",
    "due": "échéance {due}",
    "customer": "Client",
    "open_task": "Ouvrir la page de la tâche",
    "outcome": "Résultat",
    "note": "Note",
    "close": "Clore la tâche",
    "closed": "Tâche close. Merci !",
    "already": "Cette tâche est déjà close ; rien n’a été modifié.",
    "choose": "Choisissez un résultat.",
    "too_long": "La note dépasse {max} caractères.",
    "s_open": "ouvertes",
    "s_overdue": "en retard",
    "s_snoozed": "reportées",
    "s_done": "closes",
    "s_all": "toutes",
    "s_withdrawn": "retirée",
    "steps_open": "Cochez chaque étape de la liste de contrôle avant « résolu », ou dites dans la note pourquoi pas.",
    "playbook": "Liste de contrôle",
    **STORED_WORDS["fr"],
    **ITEM_WORDS["fr"],
}
STRINGS: dict[str, dict[str, str]] = {"en": _EN, "de": _DE, "fr": _FR}


def count_text(text: Mapping[str, str], lang: str, n: int) -> str:
    """`1 task`, `2 tasks`: the singular for one (in French also for zero, as CLDR has it)."""
    singular = n == 1 or (lang == "fr" and n == 0)
    return text["count_one" if singular else "count"].format(n=n)


def _state(request: Request) -> CollectorState:
    state: CollectorState = request.app.state.collector
    return state


def _lang(request: Request) -> str:
    asked = request.query_params.get("lang") or request.headers.get("accept-language", "")
    return page_locale(asked.split(",")[0].split(";")[0].strip() or None)


def _assignee(request: Request, token: str) -> str:
    """The assignee the token names; TokenError (404/410 page) when it is not valid."""
    state = _state(request)
    settings = state.settings
    ref = read_token(settings.signing_key(), "tasks", token, settings.clock())
    assignee = assignee_for_ref(settings, state.store(), ref)
    if assignee is None:
        raise TokenError("nobody with tasks by that link")
    return assignee


def _filters(status: str | None, survey: str | None, priority: str | None) -> dict[str, str]:
    chosen = {
        "status": status if status in LIST_STATUSES else "open",
        "survey": survey or "",
        "priority": priority if priority in PRIORITIES else "",
    }
    return chosen


def _page(
    request: Request,
    token: str,
    assignee: str,
    filters: dict[str, str],
    *,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    state = _state(request)
    settings = state.settings
    now = settings.clock()
    lang = _lang(request)
    text = STRINGS[lang]
    surveys = {s.id: s for s in _surveys(state)}

    def link_for(view: TaskView) -> str:
        return task_link(settings, view.key, now).removeprefix(settings.public_url)

    status: StatusFilter = next(s for s in LIST_STATUSES if s == filters["status"])

    def word(item: TaskItem, view: TaskView, survey: Survey | None) -> TaskItem:
        context = view.task.context or {}
        return page_item(item, survey, view.answers, context, view.contact, lang, text, now)

    rows: list[ListedTask] = assignee_tasks(
        state.store(),
        surveys,
        now,
        assignee,
        link_for,
        status=status,
        survey_id=filters["survey"] or None,
        priority=filters["priority"] or None,
        word=word,
    )
    html = request.app.state.pages.render(
        "pages/my_tasks.html.j2",
        lang,
        s=text,
        categories=category_words(lang),
        assignee=assignee,
        rows=rows,
        filters=filters,
        statuses=LIST_STATUSES,
        priorities=PRIORITIES,
        surveys=sorted((s.id, survey_label(s, lang, s.name)) for s in surveys.values()),
        count=count_text(text, lang, len(rows)),
        outcomes=OUTCOMES,
        max_note=MAX_NOTE,
        message=message,
        error=error,
        action=f"/m/{token}/close",
        # The list's own URL, relative (the token); `action=""` is not valid HTML.
        list_action=token,
        query=urlencode({**filters, "lang": lang}),
        lang_param=lang,
    )
    return HTMLResponse(html, status_code=status_code, headers=_HEADERS)


def _surveys(state: CollectorState) -> list[Any]:
    from cxops.spec.lookup import project_surveys

    settings = state.settings
    return list(
        project_surveys(settings.surveys_path, settings.project_dir, checks=False).surveys.values()
    )


@router.get("/m/{token}", response_model=None)
def my_tasks_page(
    request: Request,
    token: str,
    status: str | None = None,
    survey: str | None = None,
    priority: str | None = None,
    saved: str | None = None,
) -> Response:
    assignee = _assignee(request, token)
    message = STRINGS[_lang(request)]["closed"] if saved == "closed" else None
    return _page(request, token, assignee, _filters(status, survey, priority), message=message)


@router.post("/m/{token}/close", response_model=None)
def close_from_list(
    request: Request,
    token: str,
    task: Annotated[int, Form()],
    outcome: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
    step: Annotated[list[int] | None, Form()] = None,
    status: Annotated[str | None, Form()] = None,
    survey: Annotated[str | None, Form()] = None,
    priority: Annotated[str | None, Form()] = None,
    lang: Annotated[str | None, Form()] = None,
) -> Response:
    assignee = _assignee(request, token)
    filters = _filters(status, survey, priority)
    text = STRINGS[page_locale(lang) if lang else _lang(request)]
    note = (note or "").strip()
    error: str | None = None
    code = 422
    if outcome not in OUTCOMES:
        error = text["choose"]
    elif len(note) > MAX_NOTE:
        error = text["too_long"].format(max=MAX_NOTE)
    else:
        state = _state(request)
        try:
            close_assignee_task(
                state.store(), assignee, task, outcome, note, state.now(), step or []
            )
        except TaskClosedError:
            error, code = text["already"], 409
        except StepsOpenError:
            error = text["steps_open"]
        except NotFoundError as exc:
            raise TokenError("not this assignee's task") from exc
        except CxopsError as exc:
            error = str(exc)
    if error is not None:
        return _page(request, token, assignee, filters, error=error, status_code=code)
    query = urlencode({**filters, "lang": lang or _lang(request), "saved": "closed"})
    return RedirectResponse(f"/m/{token}?{query}", status_code=303, headers=_HEADERS)
