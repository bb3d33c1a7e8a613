"""What the CLI calls to run a wave: the flow run (retried when Prefect itself fails),
with a progress bar on stderr while it sends."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from cxops.errors import CxopsError
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.wave.summary import WaveSummary

if TYPE_CHECKING:
    from cxops.wave.due import DueSummary
    from cxops.wave.reminder_round import ReminderSummary

Result = TypeVar("Result")

logger = logging.getLogger("cxops.wave")

#: Flow runs tried when Prefect itself fails (its ephemeral API on SQLite can be locked).
ORCHESTRATION_ATTEMPTS = 3


def configure_prefect_api(settings: Settings) -> None:
    """Point Prefect at `CXOPS_PREFECT_API_URL` when set (before the first flow run);
    with no API, Prefect's temporary one ends with this process even when it is killed."""
    from cxops.wave.prefect_api import own_ephemeral_api

    if settings.prefect_api_url:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
    own_ephemeral_api()


def is_orchestration_error(exc: BaseException) -> bool:
    """True for failures of Prefect's own machinery, never for cxops' or the channel's."""
    if isinstance(exc, CxopsError):
        return False
    module = type(exc).__module__ or ""
    if module.startswith(("prefect", "httpx", "httpcore")):
        return True
    return "database is locked" in str(exc)


def quiet_flow_logs() -> None:
    """Prefect's per-task lines (and tracebacks of errors we print ourselves) drown the
    summary; the flow runs stay in Prefect's UI and API. `--debug` shows them all."""
    debug = os.environ.get("CXOPS_DEBUG") == "1"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if debug else "CRITICAL")
    if not debug:
        # A channel logs each failed batch; the run ends with one line that says it all.
        logging.getLogger("cxops.channels").setLevel(logging.CRITICAL)


def run_wave(
    survey: Survey,
    settings: Settings,
    *,
    wave: str | None = None,
    dry_run: bool = False,
    resend_in_doubt: bool = False,
    resume: bool = False,
) -> WaveSummary:
    """Run one wave of `survey` as a Prefect flow run; the summary. `resume`: a person
    decided that the wave the breaker paused goes on (`cxops.wave.pause`)."""
    from cxops.channels import make_channel
    from cxops.wave.flow import compile_survey

    if not dry_run:
        make_channel(settings).close()  # a misconfigured channel fails here, before any flow run
    note = _resume(survey, settings, wave) if resume and not dry_run else None
    configure_prefect_api(settings)
    wave_flow = compile_survey(survey, settings)
    again = f"cxops run {survey.id}" + (f" --wave {wave}" if wave else "")
    summary = _flow_run(
        survey,
        lambda: wave_flow(
            project_dir=str(settings.project_dir),
            wave=wave,
            dry_run=dry_run,
            resend_in_doubt=resend_in_doubt,
        ),
        again,
    )
    return summary if note is None else summary.noted(note)


def _resume(survey: Survey, settings: Settings, wave: str | None) -> str:
    """Lift the breaker's pause of `wave` (before its flow run); the note saying so."""
    from cxops.store.db import open_store
    from cxops.wave.pause import resume

    store = open_store(settings.store_url)
    try:
        return resume(store, survey.id, wave, settings.clock())
    finally:
        store.dispose()


def run_reminders(
    survey: Survey, settings: Settings, *, dry_run: bool = False, resend_in_doubt: bool = False
) -> ReminderSummary:
    """One reminder round of `survey`: a Prefect flow run; a dry run plans and renders
    without Prefect and writes nothing."""
    from cxops.channels import make_channel
    from cxops.store.db import open_store

    if dry_run:
        from cxops.wave.reminder_round import remind_survey

        store = open_store(settings.store_url)
        try:
            return remind_survey(store, survey, settings, None)
        finally:
            store.dispose()
    from cxops.wave.flow import compile_reminders

    quiet_flow_logs()
    make_channel(settings).close()
    configure_prefect_api(settings)
    remind_flow = compile_reminders(survey, settings)
    return _flow_run(
        survey,
        lambda: remind_flow(project_dir=str(settings.project_dir), resend_in_doubt=resend_in_doubt),
        f"cxops remind {survey.id}",
    )


def run_send_due(settings: Settings, *, dry_run: bool = False) -> DueSummary:
    """Every due row of every survey of the project: one Prefect flow run; a dry run says
    what is due without Prefect and writes nothing."""
    from cxops.channels import make_channel
    from cxops.store.db import open_store

    if dry_run:
        from cxops.spec.lookup import project_surveys
        from cxops.wave.due import send_due

        surveys = project_surveys(settings.surveys_path, settings.project_dir)
        store = open_store(settings.store_url)
        try:
            return send_due(store, settings, dict(surveys.surveys), None)
        finally:
            store.dispose()
    from cxops.wave.flow import compile_send_due

    quiet_flow_logs()
    make_channel(settings).close()
    configure_prefect_api(settings)
    due_flow = compile_send_due(settings)
    return _flow_run(
        None, lambda: due_flow(project_dir=str(settings.project_dir)), "cxops send-due"
    )


def _flow_run(survey: Survey | None, call: Callable[[], Result], resume: str) -> Result:
    """`call()` (a flow run) under the survey's tags, stopped by SIGTERM/SIGINT with one
    line, and tried again when Prefect itself fails (the ledger makes it a resume)."""
    from prefect import tags

    from cxops.wave.flow import survey_tags
    from cxops.wave.stopping import Stopped, WaveStopped, stop_on_signals, stop_signal

    attempt = 1
    while True:
        try:
            with stop_on_signals(), tags(*(survey_tags(survey) if survey else ["cxops"])):
                return call()
        except WaveStopped:
            raise
        except BaseException as exc:
            name = exc.name if isinstance(exc, Stopped) else stop_signal()
            if name is not None:
                # Outside the send loop (starting or ending the flow run): nothing in flight.
                raise WaveStopped(f"stopped by {name}; run `{resume}` to resume") from None
            if not isinstance(exc, Exception):
                raise
            if attempt == ORCHESTRATION_ATTEMPTS or not is_orchestration_error(exc):
                raise
            # The ledger makes a re-run a resume: nobody already sent is sent again.
            logger.warning(
                "Prefect failed to run the flow (%s: %s); retrying (%d/%d)",
                type(exc).__name__,
                exc,
                attempt + 1,
                ORCHESTRATION_ATTEMPTS,
            )
            time.sleep(attempt)
            attempt += 1


def run_with_progress(
    survey: Survey,
    settings: Settings,
    *,
    wave: str | None = None,
    dry_run: bool = False,
    resend_in_doubt: bool = False,
    resume: bool = False,
    quiet: bool = False,
) -> WaveSummary:
    """Run one wave as a Prefect flow run; a rich progress bar on stderr while it sends."""
    quiet_flow_logs()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cxops.wave.progress import add_progress_listener, remove_progress_listener

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=quiet or not sys.stderr.isatty(),
    )
    bar = progress.add_task("sending" if not dry_run else "rendering", total=None)

    def listener(event: str, count: int) -> None:
        if event == "planned":
            progress.update(bar, total=count, completed=0)
        else:
            progress.advance(bar, count)

    add_progress_listener(listener)
    try:
        with progress:
            return run_wave(
                survey,
                settings,
                wave=wave,
                dry_run=dry_run,
                resend_in_doubt=resend_in_doubt,
                resume=resume,
            )
    finally:
        remove_progress_listener(listener)
