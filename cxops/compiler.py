"""Survey spec -> Prefect flow. Prefect orchestrates; the ledger decides who is sent.

A wave is one flow run: a `plan` task puts the invitees into the ledger (or finds
them there on a re-run), then `send-batch` task runs each claim, render and send
up to `CXOPS_BATCH_SIZE` contacts — a wave of a million contacts is about a
thousand task runs, never one per contact — and a `summarize` task publishes the
wave summary as a markdown artifact.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from prefect import flow, tags, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE as NO_CACHE
from prefect.context import TagsContext

from cxops.channels import make_channel
from cxops.errors import CxopsError
from cxops.messages.render import InvitationRenderer
from cxops.planning import WaveSummary
from cxops.sending import (
    BatchResult,
    dry_run_wave,
    finish_summary,
    long_lived_heap_frozen,
    notify_planned,
    plans_in_parallel,
    prepare_wave,
    prepare_wave_in_process,
    send_one_batch,
)
from cxops.settings import Settings, get_settings
from cxops.spec.loader import load_survey
from cxops.spec.models import Survey
from cxops.store import ledger
from cxops.store.db import Store, open_store
from cxops.waves import wave_id_for

logger = logging.getLogger("cxops.compiler")


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only for transient failures, never for cxops' own (config, templates)."""
    try:
        state.result()
    except CxopsError:
        return False
    except Exception:
        return True
    return False


@task(
    name="plan",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=_worth_retrying,
)
def plan_task(
    store: Store, survey: Survey, settings: Settings, wave_id: str, in_own_process: bool
) -> dict[str, Any]:
    if in_own_process:
        return prepare_wave_in_process(survey, settings, wave_id).as_dict()
    return prepare_wave(store, survey, settings, wave_id).as_dict()


@task(
    name="send-batch",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_worth_retrying,
)
def send_batch_task(
    store: Store,
    survey: Survey,
    settings: Settings,
    wave_id: str,
    renderer: InvitationRenderer,
    claim_id: str,
) -> dict[str, int]:
    channel = make_channel(settings)
    try:
        result: BatchResult = send_one_batch(
            store, survey, settings, wave_id, channel, renderer, claim_id
        )
    finally:
        channel.close()
    return result.as_dict()


@task(name="summarize", cache_policy=NO_CACHE)
def summarize_task(store: Store, settings: Settings, planned: dict[str, Any]) -> dict[str, Any]:
    summary = finish_summary(
        store, planned["survey"], planned["wave"], WaveSummary.from_dict(planned)
    )
    if summary.extra.get("pending") == 0 and summary.in_doubt == 0:
        ledger.set_wave_status(store, summary.survey, summary.wave, "complete", settings.clock())
    create_markdown_artifact(
        key=artifact_key(summary.survey),
        markdown=summary_markdown(summary),
        description=f"Wave {summary.wave} of {summary.survey}",
    )
    return summary.as_dict()


def artifact_key(survey_id: str) -> str:
    return f"wave-summary-{survey_id}"


def summary_markdown(summary: WaveSummary) -> str:
    lines = [
        f"# Wave `{summary.wave}` of `{summary.survey}`",
        "",
        f"audience {summary.audience} · filtered out {summary.filtered_out} · "
        f"eligible {summary.eligible} · sampled {summary.sampled} · sent {summary.sent} · "
        f"in doubt {summary.in_doubt} · failed {summary.failed} · bad rows {len(summary.bad_rows)}",
        "",
        "| segment | eligible | sampled | sent | in doubt | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, counts in sorted(summary.by_segment.items()):
        lines.append(
            f"| {name} | {counts.get('eligible', 0)} | {counts.get('sampled', 0)} | "
            f"{counts.get('sent', 0)} | {counts.get('in_doubt', 0)} | {counts.get('failed', 0)} |"
        )
    if summary.excluded:
        lines += ["", "| excluded because | people |", "| --- | ---: |"]
        lines += [f"| {reason} | {count} |" for reason, count in summary.excluded.items()]
    return "\n".join(lines) + "\n"


def _send_wave(
    store: Store, survey: Survey, settings: Settings, wave: str | None, resend_in_doubt: bool
) -> dict[str, Any]:
    """The flow's body: plan into the ledger, send claimed batches until none is left.

    A big source is planned in its own process while batches are claimed and sent as
    soon as they are in the ledger; claims stay the only way to a send, so nobody is
    invited twice either way.
    """
    now = settings.clock()
    wave_id = wave_id_for(survey.schedule, now, wave)
    notes = []
    ledger.recover_dead_claims(store, survey.id, wave_id, 0, now, settings.send_lease_seconds)
    if resend_in_doubt:
        moved = ledger.resend_in_doubt(store, survey.id, wave_id, 0)
        notes.append(f"{moved} in-doubt invitations put back to be sent again")
    renderer = InvitationRenderer(survey, settings, wave_id=wave_id)
    claim_id = ledger.new_claim_id()

    def send_while_pending() -> None:
        while send_batch_task(store, survey, settings, wave_id, renderer, claim_id)["claimed"]:
            pass

    if plans_in_parallel(store, survey, settings, wave_id):
        planning = plan_task.submit(store, survey, settings, wave_id, True)
        while not planning.wrapped_future.done():
            if ledger.has_pending(store, survey.id, wave_id, 0):
                send_batch_task(store, survey, settings, wave_id, renderer, claim_id)
            else:
                planning.wait(timeout=0.2)
        planned = planning.result()
    else:
        planned = plan_task(store, survey, settings, wave_id, False)
    notify_planned(ledger.wave_counts(store, survey.id, wave_id, 0))
    send_while_pending()
    planned["notes"] = [*planned.get("notes", []), *notes]
    return summarize_task(store, settings, planned)


def compile_survey(survey: Survey):
    """The Prefect flow that runs one wave of `survey`."""

    @flow(
        name=f"wave-{survey.id}",
        description=f"One invitation wave of the survey {survey.name!r}.",
        validate_parameters=True,
        log_prints=False,
    )
    def wave_flow(
        project_dir: str,
        wave: str | None = None,
        dry_run: bool = False,
        resend_in_doubt: bool = False,
    ) -> dict[str, Any]:
        settings = get_settings(project_dir=Path(project_dir))
        if dry_run:
            return dry_run_wave(survey, settings, wave).as_dict()
        store = open_store(settings.store_url)
        try:
            # The survey's tags mark the flow run. On task runs, Prefect would check a
            # concurrency limit per tag per task run: ~150 ms of API calls per batch.
            with TagsContext(current_tags=set()), long_lived_heap_frozen():
                return _send_wave(store, survey, settings, wave, resend_in_doubt)
        finally:
            store.dispose()

    return wave_flow


def configure_prefect_api(settings: Settings) -> None:
    """Point Prefect at `CXOPS_PREFECT_API_URL` when set (before the first flow run)."""
    if settings.prefect_api_url:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url


def run_wave(
    survey_path: Path,
    settings: Settings,
    *,
    wave: str | None = None,
    dry_run: bool = False,
    resend_in_doubt: bool = False,
) -> dict[str, Any]:
    """Run one wave of the survey at `survey_path` as a Prefect flow run; the summary."""
    survey = load_survey(survey_path, project_dir=settings.project_dir)
    if not dry_run:
        make_channel(settings).close()  # a misconfigured channel fails here, before any flow run
    configure_prefect_api(settings)
    wave_flow = compile_survey(survey)
    for attempt in range(1, ORCHESTRATION_ATTEMPTS + 1):
        try:
            with tags(*survey_tags(survey)):
                return wave_flow(
                    project_dir=str(settings.project_dir),
                    wave=wave,
                    dry_run=dry_run,
                    resend_in_doubt=resend_in_doubt,
                )
        except Exception as exc:
            if attempt == ORCHESTRATION_ATTEMPTS or not is_orchestration_error(exc):
                raise
            # The ledger makes a re-run a resume: nobody already sent is sent again.
            logger.warning(
                "Prefect failed to run the wave (%s: %s); retrying (%d/%d)",
                type(exc).__name__,
                exc,
                attempt + 1,
                ORCHESTRATION_ATTEMPTS,
            )
            time.sleep(attempt)
    raise AssertionError("unreachable")


#: Flow runs tried when Prefect itself fails (its ephemeral API on SQLite can be locked).
ORCHESTRATION_ATTEMPTS = 3


def is_orchestration_error(exc: BaseException) -> bool:
    """True for failures of Prefect's own machinery, never for cxops' or the channel's."""
    if isinstance(exc, CxopsError):
        return False
    module = type(exc).__module__ or ""
    if module.startswith(("prefect", "httpx", "httpcore")):
        return True
    return "database is locked" in str(exc)


def survey_tags(survey: Survey) -> list[str]:
    """Tags on every flow run of a survey, for filtering in the Prefect UI."""
    return ["cxops", f"survey:{survey.id}", f"kind:{survey.kind}"]
