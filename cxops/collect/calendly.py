"""`POST /webhooks/calendly`: bookings and cancellations of interview studies, signed.

Every request must carry `Calendly-Webhook-Signature` made with
`CXOPS_CALENDLY_WEBHOOK_SIGNING_KEY` (without the key set, every request is
refused: bookings change who holds a place). Events other than `invitee.created`
and `invitee.canceled` are acknowledged and ignored.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cxops.interviews import calendly
from cxops.interviews.service import apply_calendly
from cxops.spec.lookup import project_surveys

router = APIRouter()


@router.post("/webhooks/calendly")
async def calendly_events(request: Request) -> JSONResponse:
    """Apply one Calendly invitee event; 403 unless signed with the configured key."""
    state = request.app.state.collector
    settings = state.settings
    body = await request.body()
    key = settings.calendly_webhook_signing_key
    try:
        if key is None:
            raise calendly.CalendlyRefused("CXOPS_CALENDLY_WEBHOOK_SIGNING_KEY is not set")
        calendly.verify(
            key.get_secret_value(),
            request.headers.get(calendly.SIGNATURE_HEADER),
            body,
            state.now(),
        )
        event = calendly.parse(body)
    except calendly.CalendlyRefused as exc:
        return JSONResponse({"error": str(exc)}, status_code=403)
    except calendly.CalendlyPayloadError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    if event is None:
        return JSONResponse({"result": "ignored: not an invitee event"})
    surveys = project_surveys(settings.surveys_path, settings.project_dir, checks=False)
    studies = [s for s in surveys.surveys.values() if s.interview is not None]
    result = await state.run_db(apply_calendly, state.store(), studies, event, state.now())
    return JSONResponse({"result": result})
