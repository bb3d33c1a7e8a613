"""A survey -> its Prefect flow. Prefect orchestrates; the ledger decides who is sent.

A wave is one flow run: a `plan` task puts the invitees into the ledger (or finds
them there on a re-run), then `send-batch` task runs each claim, render and send
up to `CXOPS_BATCH_SIZE` contacts — a wave of a million contacts is about a
thousand task runs, never one per contact — and a `summarize` task publishes the
wave summary as a markdown artifact. The only module of the package that imports
Prefect at the top.

`CXOPS_TASK_RUNNER` picks the task runner: `thread` (Prefect's default; one batch in
flight) or `dask` / `dask:ADDRESS` (prefect-dask: as many batches in flight as the
cluster has threads, each claimed in the database, so they never overlap).

Every task and flow here handles contacts: none persists its result, and each raises
only contact-free errors (`cxops.wave.contact_free`), so Prefect's records (states,
events, logs, stored results) never hold a contact's address or row.

Over 400 lines on purpose: it is the whole Prefect side of the wave path (the wave and
reminder flows, their tasks, the task runners), kept together so that no other module
needs Prefect at import time.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import Flow, flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE as NO_CACHE
from prefect.context import FlowRunContext, TagsContext
from prefect.exceptions import TerminationSignal
from prefect.futures import PrefectConcurrentFuture

from cxops.channels import make_channel
from cxops.errors import ConfigError, CxopsError
from cxops.messages.render import InvitationRenderer
from cxops.settings import Settings, get_settings
from cxops.spec.models import Survey
from cxops.store.db import Store, open_store
from cxops.store.liveness import new_claim_id
from cxops.wave import status
from cxops.wave.contact_free import contact_free_errors
from cxops.wave.dry_run import dry_run_wave
from cxops.wave.due import DueSummary, due_markdown, send_due
from cxops.wave.ids import WaveContext
from cxops.wave.prepare import (
    long_lived_heap_frozen,
    plans_in_parallel,
    prepare_wave,
    prepare_wave_in_process,
    stop_planning,
)
from cxops.wave.reminder_round import ReminderSummary, remind_survey, reminder_markdown
from cxops.wave.send import (
    BatchResult,
    announce_planned,
    finish_summary,
    has_work,
    send_one_batch,
    start_sending,
)
from cxops.wave.stopping import (
    ChannelBackoff,
    ChannelGaveUp,
    Stopped,
    WaveStopped,
    noting_signals,
    stop_signal,
    stopped_line,
)
from cxops.wave.summary import WaveSummary, artifact_key, summary_markdown


def worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
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
    persist_result=False,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=worth_retrying,
)
@contact_free_errors
def plan_task(store: Store, wave: WaveContext, in_own_process: bool) -> WaveSummary:
    if in_own_process:
        return prepare_wave_in_process(wave)
    return prepare_wave(store, wave)


@task(
    name="send-batch",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=worth_retrying,
)
@contact_free_errors
def send_batch_task(
    store: Store, wave: WaveContext, renderer: InvitationRenderer, claim_id: str
) -> BatchResult:
    channel = make_channel(wave.settings)
    try:
        return send_one_batch(store, wave, channel, renderer, claim_id)
    finally:
        channel.close()


@task(
    name="send-batch",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=worth_retrying,
)
@contact_free_errors
def send_batch_on_worker(wave: WaveContext, claim_id: str) -> BatchResult:
    """`send-batch` on a Dask worker: only the wave's typed values travel; the store and
    the renderer are the worker process's own (`_worker_parts`)."""
    store, renderer = _worker_parts(wave)
    channel = make_channel(wave.settings)
    try:
        return send_one_batch(store, wave, channel, renderer, claim_id)
    finally:
        channel.close()


#: (store, survey, wave, step) -> the store and renderer of a Dask worker process: made
#: once per wave there (an engine and a Jinja environment do not travel between processes).
_WORKER_PARTS: OrderedDict[tuple[str, str, str, int], tuple[Store, InvitationRenderer]] = (
    OrderedDict()
)
_WORKER_PARTS_LOCK = threading.Lock()
_WORKER_PARTS_KEPT = 4


def _worker_parts(wave: WaveContext) -> tuple[Store, InvitationRenderer]:
    key = (wave.settings.store_url, wave.survey.id, wave.wave_id, wave.step)
    with _WORKER_PARTS_LOCK:
        parts = _WORKER_PARTS.get(key)
        if parts is None:
            store = open_store(wave.settings.store_url, upgrade=False)
            renderer = InvitationRenderer(wave.survey, wave.settings, wave_id=wave.wave_id)
            parts = _WORKER_PARTS[key] = (store, renderer)
            while len(_WORKER_PARTS) > _WORKER_PARTS_KEPT:
                _WORKER_PARTS.popitem(last=False)[1][0].dispose()
        return parts


def task_runner(settings: Settings) -> Any | None:
    """The task runner `CXOPS_TASK_RUNNER` names; None for Prefect's default thread pool."""
    choice = settings.task_runner
    if choice == "thread":
        return None
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError:
        raise ConfigError(
            f"CXOPS_TASK_RUNNER={choice}: prefect-dask is not installed; "
            "install the extra with `pip install 'cxops[dask]'` or use thread"
        ) from None
    # The scheduler's and workers' INFO lines (start, connect, retire) on every run are noise.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    address = choice.partition(":")[2].strip()
    if address:
        return DaskTaskRunner(address=address)
    # A local cluster: one worker process per core (Dask's default); no dashboard server.
    return DaskTaskRunner(
        cluster_kwargs={"dashboard_address": None, "env": {"PREFECT_API_URL": _api_url()}}
    )


def _api_url() -> str:
    """The Prefect API of this process, for the local cluster's worker processes.

    In ephemeral mode, the temporary API this process would start at its first flow run
    is started now (Prefect keeps one per process): without its address every worker
    process boots a temporary API of its own, tens of seconds each.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    url = PREFECT_API_URL.value()
    if url or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return str(url or "")
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    return str(server.api_url)


def _cluster_threads() -> int:
    """Threads of the flow run's Dask cluster: how many batches to keep in flight."""
    context = FlowRunContext.get()
    runner = context.task_runner if context is not None else None
    client = getattr(runner, "client", None)
    if client is None:
        return 1
    return max(1, int(sum(client.nthreads().values())))


@task(name="summarize", cache_policy=NO_CACHE, persist_result=False)
@contact_free_errors
def summarize_task(store: Store, wave: WaveContext, planned: WaveSummary) -> WaveSummary:
    summary = status.finished(store, wave, finish_summary(store, wave, planned))
    create_markdown_artifact(
        key=artifact_key(summary.survey),
        markdown=summary_markdown(summary),
        description=f"Wave {summary.wave} of {summary.survey}",
    )
    return summary


def send_wave(
    store: Store, wave: WaveContext, resend_in_doubt_too: bool, *, spread: bool = False
) -> WaveSummary:
    """The flow's body; a channel that keeps failing or a signal stops it with
    `WaveStopped` (one line: what happened, how many were sent, how to resume).
    `spread`: batches go to the flow's Dask cluster, several at once."""
    with _stopped_in_one_line(store, lambda: wave, on_stop=stop_planning):
        summary = _send_wave(store, wave, resend_in_doubt_too, spread)
    return summary


@contextmanager
def _stopped_in_one_line(
    store: Store,
    in_progress: Callable[[], WaveContext | None],
    *,
    on_stop: Callable[[], None] = lambda: None,
) -> Iterator[None]:
    """Signals are noted while the body runs (`noting_signals`). A channel that gave up,
    or a signal, becomes `WaveStopped` with one line about the wave (or step) in
    progress; `on_stop` runs first on a signal. With none in progress, or any other
    error, the exception passes as it is."""
    try:
        with noting_signals():
            yield
    except ChannelGaveUp as exc:
        wave = in_progress()
        if wave is None:
            raise
        raise WaveStopped(stopped_line(store, wave, f"stopped: {exc}")) from None
    except (Stopped, TerminationSignal) as exc:
        on_stop()
        wave = in_progress()
        if wave is None:
            raise
        name = exc.name if isinstance(exc, Stopped) else "SIGTERM"
        raise WaveStopped(stopped_line(store, wave, f"stopped by {name}")) from None
    except BaseException:
        on_stop()
        signalled, wave = stop_signal(), in_progress()
        if signalled is None or wave is None:
            raise
        raise WaveStopped(stopped_line(store, wave, f"stopped by {signalled}")) from None


def _send_wave(
    store: Store, wave: WaveContext, resend_in_doubt_too: bool, spread: bool
) -> WaveSummary:
    """Plan into the ledger, send claimed batches until none is left.

    A big source is planned in its own process while batches are claimed and sent as
    soon as they are in the ledger; claims stay the only way to a send, so nobody is
    invited twice either way. A batch the channel sent nothing of is followed by a
    longer pause each time, and the wave gives up after a few (`ChannelBackoff`).
    """
    status.close_expired(store, wave.survey, wave.settings, wave.now)
    notes = start_sending(store, wave, resend_in_doubt_too=resend_in_doubt_too)
    if spread:
        # Planned first, in this process (or its planner process), then spread out.
        planned = plan_task(store, wave, False)
        announce_planned(store, wave)
        backoff = ChannelBackoff.of(wave.settings)
        send_spread(wave, new_claim_id(), backoff, _cluster_threads())
        return summarize_task(store, wave, planned.noted(*notes))
    send_a_batch = _batch_sender(store, wave)
    if plans_in_parallel(store, wave):
        planning = plan_task.submit(store, wave, True)
        if not isinstance(planning, PrefectConcurrentFuture):
            raise TypeError(f"expected a future of the thread pool, got {planning!r}")
        while not planning.wrapped_future.done():
            # Pending rows that are not due yet (a later not_before) claim nothing: wait.
            if not (has_work(store, wave) and send_a_batch().claimed):
                planning.wait(timeout=0.2)
        planned = planning.result()
    else:
        planned = plan_task(store, wave, False)
    announce_planned(store, wave)
    while send_a_batch().claimed:
        pass
    return summarize_task(store, wave, planned.noted(*notes))


def _batch_sender(store: Store, wave: WaveContext) -> Callable[[], BatchResult]:
    """Send the next claimed batch of `wave` (a step); its result (`claimed` 0 when
    nothing was left).

    A batch the channel sent nothing of is followed by a longer pause each time, and the
    wave gives up after a few (`ChannelBackoff`)."""
    renderer = InvitationRenderer(wave.survey, wave.settings, wave_id=wave.wave_id)
    claim_id = new_claim_id()
    backoff = ChannelBackoff.of(wave.settings)

    def send_a_batch() -> BatchResult:
        result = send_batch_task(store, wave, renderer, claim_id)
        if result.claimed:
            backoff.after(result.progressed, result.error)
        return result

    return send_a_batch


def send_reminders(
    store: Store, survey: Survey, settings: Settings, *, dry_run: bool, resend_in_doubt: bool
) -> ReminderSummary:
    """The reminder flow's body: one round (`cxops.wave.reminder_round`), each due step
    sent by the wave's batch task; a failing channel or a signal stops it with one line."""
    current: list[WaveContext] = []

    def send_step(wave: WaveContext) -> int:
        current[:] = [wave]
        announce_planned(store, wave)
        send_a_batch = _batch_sender(store, wave)
        sent = 0
        while (result := send_a_batch()).claimed:
            sent += result.sent
        return sent

    with _stopped_in_one_line(store, lambda: current[0] if current else None):
        summary = remind_survey(
            store,
            survey,
            settings,
            None if dry_run else send_step,
            resend_in_doubt_too=resend_in_doubt,
        )
    return summary


def send_due_rows(store: Store, settings: Settings, surveys: dict[str, Survey]) -> DueSummary:
    """The send-due flow's body: every due row of every survey (`cxops.wave.due`), each
    step sent by the wave's batch task; a failing channel or a signal stops it with one
    line naming the step in progress."""
    current: list[WaveContext] = []

    def send_step(wave: WaveContext) -> int:
        announce_planned(store, wave)
        send_a_batch = _batch_sender(store, wave)
        sent = 0
        while (result := send_a_batch()).claimed:
            sent += result.sent
        return sent

    def on_step(wave: WaveContext | None) -> None:
        current[:] = [] if wave is None else [wave]

    with _stopped_in_one_line(store, lambda: current[0] if current else None):
        return send_due(store, settings, surveys, send_step, on_step=on_step)


def compile_send_due(settings: Settings | None = None) -> Flow[..., DueSummary]:
    """The Prefect flow that sends every due row of every survey of a project, as one
    flow run (`cxops send-due`, and the `send-due` deployment every minute)."""

    @flow(
        name="send-due",
        description="Every due invitation and reminder of every survey of the project.",
        validate_parameters=True,
        log_prints=False,
        persist_result=False,
    )
    @contact_free_errors
    def send_due_flow(project_dir: str | None = None) -> DueSummary:
        from cxops.spec.lookup import project_surveys

        own = (
            _flow_settings(settings, project_dir)
            if project_dir is not None
            else settings or get_settings()
        )
        surveys = project_surveys(own.surveys_path, own.project_dir)
        store = open_store(own.store_url)
        try:
            with TagsContext(current_tags=set()):
                summary = send_due_rows(store, own, dict(surveys.surveys))
        finally:
            store.dispose()
        skipped = tuple(f"{path} not read: {why}" for path, why in sorted(surveys.skipped.items()))
        summary = dataclasses.replace(summary, notes=(*summary.notes, *skipped))
        create_markdown_artifact(
            key="send-due", markdown=due_markdown(summary), description="Due sends"
        )
        return summary

    return send_due_flow


def compile_reminders(
    survey: Survey, settings: Settings | None = None
) -> Flow[..., ReminderSummary]:
    """The Prefect flow that runs one reminder round of `survey` (see `compile_survey`)."""

    @flow(
        name=f"remind-{survey.id}",
        description=f"Reminders of the survey {survey.name!r} to invitees who have not answered.",
        validate_parameters=True,
        log_prints=False,
        persist_result=False,
    )
    @contact_free_errors
    def remind_flow(
        project_dir: str, dry_run: bool = False, resend_in_doubt: bool = False
    ) -> ReminderSummary:
        own = _flow_settings(settings, project_dir)
        store = open_store(own.store_url)
        try:
            with TagsContext(current_tags=set()):
                summary = send_reminders(
                    store, survey, own, dry_run=dry_run, resend_in_doubt=resend_in_doubt
                )
        finally:
            store.dispose()
        if not dry_run:
            create_markdown_artifact(
                key=f"reminders-{survey.id}",
                markdown=reminder_markdown(summary),
                description=f"Reminder round of {survey.id}",
            )
        return summary

    return remind_flow


def send_spread(wave: WaveContext, claim_id: str, backoff: ChannelBackoff, slots: int) -> None:
    """Keep `slots` batch task runs in flight until each chain comes back with an empty claim."""
    in_flight = [send_batch_on_worker.submit(wave, claim_id) for _ in range(slots)]
    while in_flight:
        result = in_flight.pop(0).result()
        if result.claimed:
            backoff.after(result.progressed, result.error)
            in_flight.append(send_batch_on_worker.submit(wave, claim_id))


def survey_tags(survey: Survey) -> list[str]:
    """Tags on every flow run of a survey, for filtering in the Prefect UI."""
    return ["cxops", f"survey:{survey.id}", f"kind:{survey.kind}"]


def _flow_settings(settings: Settings | None, project_dir: str) -> Settings:
    """The CLI's settings for an in-process run of that project, else built from
    `project_dir` and the environment (a deployment's run)."""
    if settings is not None and str(settings.project_dir) == project_dir:
        return settings
    return get_settings(project_dir=Path(project_dir))


def compile_survey(survey: Survey, settings: Settings | None = None) -> Flow[..., WaveSummary]:
    """The Prefect flow that runs one wave of `survey`.

    Its parameters are what a deployment can pass (plain values). With `settings`
    (an in-process run: the CLI built them), the flow uses them as they are; without
    (a deployment's run), it builds them once from `project_dir` and the environment.
    """

    runner = task_runner(settings if settings is not None else get_settings())
    options: dict[str, Any] = {} if runner is None else {"task_runner": runner}

    @flow(
        name=f"wave-{survey.id}",
        description=f"One invitation wave of the survey {survey.name!r}.",
        validate_parameters=True,
        log_prints=False,
        persist_result=False,
        **options,
    )
    @contact_free_errors
    def wave_flow(
        project_dir: str,
        wave: str | None = None,
        dry_run: bool = False,
        resend_in_doubt: bool = False,
    ) -> WaveSummary:
        own = _flow_settings(settings, project_dir)
        context = WaveContext.begin(survey, own, wave)
        if dry_run:
            return dry_run_wave(context)
        store = open_store(own.store_url)
        try:
            # The survey's tags mark the flow run. On task runs, Prefect would check a
            # concurrency limit per tag per task run: ~150 ms of API calls per batch.
            with TagsContext(current_tags=set()), long_lived_heap_frozen():
                return send_wave(store, context, resend_in_doubt, spread=runner is not None)
        finally:
            store.dispose()

    return wave_flow
