"""One wave, without Prefect: plan it into the ledger, then send claimed batches.

The compiler wraps these functions in Prefect tasks; they are also what tests and
benchmarks call directly. Whether a person was invited is answered by the ledger.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cxops.audience.eligibility import History
from cxops.channels.base import BatchContext, Channel, Delivery
from cxops.errors import CxopsError
from cxops.messages.render import InvitationRenderer, SendView
from cxops.messages.types import MessageGroup, Recipient
from cxops.planning import WaveSummary, json_safe, plan_wave
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.store import ledger
from cxops.store.db import Store, open_store, store_exists
from cxops.store.history import load_history
from cxops.store.ledger import ClaimedSend
from cxops.store.models import Response
from cxops.store.responses import CONFIRMED

#: (event, count): ("planned", recipients pending) then ("batch", recipients handled).
ProgressCallback = Callable[[str, int], None]
#: In-process listeners (the CLI's progress bar); flows run in the CLI's process.
_progress_listeners: list[ProgressCallback] = []


def add_progress_listener(listener: ProgressCallback) -> None:
    _progress_listeners.append(listener)


def remove_progress_listener(listener: ProgressCallback) -> None:
    if listener in _progress_listeners:
        _progress_listeners.remove(listener)


def _notify_progress(event: str, count: int) -> None:
    for listener in list(_progress_listeners):
        listener(event, count)


def notify_planned(counts: dict[str, Any]) -> None:
    """Tell listeners how many recipients the send loop has ahead of it."""
    _notify_progress("planned", counts.get("pending", 0))


def accepted_interviews(store: Store, survey_id: str) -> int:
    """How many people accepted an interview of this survey so far."""
    with store.session() as session:
        answers = session.scalars(
            # A provisional acceptance (a scanner loading the yes link) counts nowhere.
            select(Response.answers).where(Response.survey_id == survey_id, CONFIRMED)
        )
        return sum(1 for answer in answers if answer.get("accepted") is True)


def _history_and_accepted(
    store: Store, survey: Survey, settings: Settings, wave_id: str, now: datetime
) -> tuple[History, int]:
    """Who the store holds back for this wave, and interviews accepted so far."""
    history = load_history(
        store,
        survey_id=survey.id,
        wave_id=wave_id,
        now=now,
        surveyed_within=survey.audience.exclude.surveyed_within,
        cap=settings.cap,
    )
    accepted = accepted_interviews(store, survey.id) if survey.interview else 0
    return history, accepted


def read_history(
    settings: Settings, survey: Survey, wave_id: str, now: datetime
) -> tuple[History | None, int]:
    """The store's history when a store exists, else None (nobody excluded for history)."""
    if not store_exists(settings.store_url):
        return None, 0
    store = open_store(settings.store_url, upgrade=False)
    try:
        return _history_and_accepted(store, survey, settings, wave_id, now)
    finally:
        store.dispose()


def plan_only(survey: Survey, settings: Settings, wave: str | None = None):
    """`cxops plan`: the wave plan with history from the store when there is one. Read-only."""
    from cxops.waves import wave_id_for

    now = settings.clock()
    wave_id = wave_id_for(survey.schedule, now, wave)
    history, accepted = read_history(settings, survey, wave_id, now)
    return plan_wave(survey, settings, history=history, wave=wave_id, accepted=accepted)


def _ledger_rows(invitees: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for invitee in invitees:
        contact = invitee.contact
        yield {
            "contact_key": contact.key,
            "email": contact.email,
            "segment": invitee.segment,
            "locale": (contact.locale or "en")[:16],
            "contact": json_safe(contact.fields),
        }


def _add_in_locale_batches(
    store: Store,
    survey: Survey,
    wave_id: str,
    invitees: Iterable[Any],
    now: datetime,
    batch_size: int,
) -> None:
    """Write invitees so that each ledger batch holds one locale.

    Messages of one locale render as one group, so a single-locale batch becomes one
    SendGrid request of up to 1,000 personalizations instead of one per locale.
    """
    from cxops.messages.locales import resolve_locale

    offered = survey.invitation.locales
    buffers: dict[str, list[dict[str, Any]]] = {}
    for row in _ledger_rows(invitees):
        bucket = buffers.setdefault(resolve_locale(row["locale"], offered), [])
        bucket.append(row)
        if len(bucket) >= batch_size:
            ledger.add_invitees(store, survey.id, wave_id, 0, bucket, now, batch_size=batch_size)
            bucket.clear()
    for bucket in buffers.values():
        if bucket:
            ledger.add_invitees(store, survey.id, wave_id, 0, bucket, now, batch_size=batch_size)


def prepare_wave(
    store: Store, survey: Survey, settings: Settings, wave: str | None = None
) -> WaveSummary:
    """Put the wave's invitees into the ledger once; a re-run finds them there and resumes."""
    from cxops.waves import wave_id_for

    now = settings.clock()
    wave_id = wave_id_for(survey.schedule, now, wave)
    row = ledger.ensure_wave(store, survey.id, wave_id, now)
    if row.status in ("planned", "complete") and row.summary:
        summary = WaveSummary.from_dict(row.summary)
        summary.notes = [*summary.notes, "resumed: the wave was planned by an earlier run"]
        return summary
    history, accepted = _history_and_accepted(store, survey, settings, wave_id, now)
    plan = plan_wave(survey, settings, history=history, wave=wave_id, accepted=accepted)
    _add_in_locale_batches(store, survey, wave_id, plan.invitees, now, settings.batch_size)
    summary = plan.summary()
    ledger.save_wave_summary(store, survey.id, wave_id, summary.as_dict())
    ledger.set_wave_status(store, survey.id, wave_id, "planned", now)
    return summary


#: Sources larger than this are planned in a separate process (the machine's other
#: core) while the first batches are already being sent; smaller ones are planned first,
#: which costs less than starting a process.
PARALLEL_PLANNING_BYTES = 4 * 1024 * 1024


def plans_in_parallel(store: Store, survey: Survey, settings: Settings, wave_id: str) -> bool:
    """Plan this wave in its own process? Only a big file source of a wave not yet planned."""
    source = survey.audience.source
    path_text = getattr(source, "csv", None) or getattr(source, "parquet", None)
    if path_text is None or survey.source_path is None:
        return False
    path = Path(path_text)
    path = path if path.is_absolute() else settings.project_dir / path
    if not path.is_file() or path.stat().st_size < PARALLEL_PLANNING_BYTES:
        return False
    row = ledger.get_wave(store, survey.id, wave_id)
    return row is None or row.status not in ("planned", "complete")


def prepare_wave_in_process(survey: Survey, settings: Settings, wave_id: str) -> WaveSummary:
    """`prepare_wave` in a fresh process, so planning and sending use both cores."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        planned = pool.submit(_prepare_in_child, survey, settings, wave_id).result()
    return WaveSummary.from_dict(planned)


def _prepare_in_child(survey: Survey, settings: Settings, wave_id: str) -> dict[str, Any]:
    # The flow opened (and upgraded) the store before it started this process.
    store = open_store(settings.store_url, upgrade=False)
    try:
        with long_lived_heap_frozen():
            return prepare_wave(store, survey, settings, wave_id).as_dict()
    finally:
        store.dispose()


@contextmanager
def long_lived_heap_frozen() -> Iterator[None]:
    """Keep what is alive now out of the cyclic garbage collector's scans meanwhile.

    A wave allocates millions of short-lived objects, so the collector runs often, and
    each full collection would also walk the few hundred thousand objects of the
    imports and of Prefect: measured, 10-15 % of a wave's CPU time. Reference
    counting still frees them; the collector scans them again afterwards.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class BatchResult:
    batch: int
    claimed: int
    sent: int = 0
    failed: int = 0
    in_doubt: int = 0
    retry: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _send_view(row: ClaimedSend, expires_at: datetime) -> SendView:
    return SendView(
        send_id=row.send_id,
        email=row.email,
        contact_key=row.contact_key,
        segment=row.segment,
        locale=row.locale,
        contact=row.contact,
        step=row.step,
        expires_at=expires_at,
    )


def send_one_batch(
    store: Store,
    survey: Survey,
    settings: Settings,
    wave_id: str,
    channel: Channel,
    renderer: InvitationRenderer,
    claim_id: str,
    *,
    step: int = 0,
) -> BatchResult:
    """Claim up to `batch_size` pending rows, render, send and record; claimed=0 when done."""
    now = settings.clock()
    rows = ledger.claim_batch(store, survey.id, wave_id, step, claim_id, settings.batch_size, now)
    if not rows:
        return BatchResult(batch=-1, claimed=0)
    # Claims are disjoint, so their first ledger id names the batch uniquely (outbox files).
    batch_no = min(row.id for row in rows)
    result = BatchResult(batch=batch_no, claimed=len(rows))
    expires_at = survey.invitation.expires_after.after(now, settings.holidays)
    views = [_send_view(row, expires_at) for row in rows]
    try:
        groups = renderer.render_groups(views)
        unrenderable: list[Delivery] = []
    except CxopsError:
        groups, unrenderable = _render_one_by_one(renderer, views)
        if not groups:
            # Nothing renders (a broken template): release the batch for a later, fixed run.
            ledger.mark_results(
                store, claim_id, [Delivery(row.send_id, "retry") for row in rows], settings.clock()
            )
            raise
    except BaseException:
        ledger.mark_results(
            store, claim_id, [Delivery(row.send_id, "retry") for row in rows], settings.clock()
        )
        raise
    context = BatchContext(survey_id=survey.id, wave_id=wave_id, batch=batch_no, step=step)
    try:
        deliveries = channel.send(groups, context)
    except BaseException as exc:
        # The channel may have sent some of them: never resend blindly.
        ledger.mark_results(
            store,
            claim_id,
            [
                Delivery(row.send_id, "in_doubt", error=f"{type(exc).__name__}: {exc}")
                for row in rows
            ],
            settings.clock(),
        )
        raise
    deliveries = list(deliveries) + unrenderable
    answered = {delivery.send_id for delivery in deliveries}
    deliveries = deliveries + [
        Delivery(row.send_id, "in_doubt", error="the channel reported nothing for this message")
        for row in rows
        if row.send_id not in answered
    ]
    ledger.mark_results(store, claim_id, deliveries, settings.clock(), channel=channel.name)
    for delivery in deliveries:
        if delivery.status == "sent":
            result.sent += 1
        elif delivery.status == "failed":
            result.failed += 1
        elif delivery.status == "in_doubt":
            result.in_doubt += 1
        else:
            result.retry += 1
    _notify_progress("batch", result.claimed)
    return result


def _render_one_by_one(
    renderer: InvitationRenderer, views: Sequence[SendView]
) -> tuple[list[MessageGroup], list[Delivery]]:
    """Render each recipient alone: the ones that fail are failed with the reason."""
    groups: list[MessageGroup] = []
    failures: list[Delivery] = []
    for view in views:
        try:
            message = renderer.render_one(view)
        except CxopsError as exc:
            failures.append(Delivery(view.send_id, "failed", error=f"cannot render: {exc}"))
            continue
        recipient = Recipient(
            send_id=message.send_id,
            email=message.to_email,
            name=message.to_name,
            substitutions={},
            headers=message.headers,
            custom_args=message.custom_args,
        )
        groups.append(
            MessageGroup(
                from_header=message.from_header,
                reply_to=message.reply_to,
                subject=message.subject,
                html=message.html,
                text=message.text,
                recipients=[recipient],
            )
        )
    return groups, failures


def finish_summary(
    store: Store, survey_id: str, wave_id: str, planned: WaveSummary, *, step: int = 0
) -> WaveSummary:
    """The planned summary with the ledger's current counts (sent, in doubt, failed)."""
    counts = ledger.wave_counts(store, survey_id, wave_id, step)
    summary = WaveSummary.from_dict(planned.as_dict())
    summary.sent = counts.get("sent", 0)
    summary.failed = counts.get("failed", 0)
    summary.in_doubt = counts.get("in_doubt", 0) + counts.get("sending", 0)
    summary.extra["pending"] = counts.get("pending", 0)
    summary.extra["skipped"] = counts.get("skipped", 0)
    for segment, by_status in counts["by_segment"].items():
        target = summary.by_segment.setdefault(segment, {})
        target["sent"] = by_status.get("sent", 0)
        target["failed"] = by_status.get("failed", 0)
        target["in_doubt"] = by_status.get("in_doubt", 0) + by_status.get("sending", 0)
    reasons = ledger.failed_reasons(store, survey_id, wave_id, step)
    if reasons:
        summary.extra["failed_reasons"] = reasons
    if summary.in_doubt:
        summary.notes.append(
            f"{summary.in_doubt} in doubt (a run stopped mid-batch): not resent; "
            "use --resend-in-doubt to send them again"
        )
    return summary


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def dry_run_wave(survey: Survey, settings: Settings, wave: str | None = None) -> WaveSummary:
    """Plan and render every invitation of the wave, send and store nothing."""
    plan = plan_only(survey, settings, wave)
    renderer = InvitationRenderer(survey, settings, wave_id=plan.wave_id)
    expires_at = survey.invitation.expires_after.after(plan.now, settings.holidays)
    rendered = 0
    for chunk in _chunks(plan.invitees, settings.batch_size):
        views = [
            SendView(
                send_id=f"dryrun{index:010d}",
                email=invitee.contact.email,
                contact_key=invitee.contact.key,
                segment=invitee.segment,
                locale=invitee.contact.locale,
                contact=json_safe(invitee.contact.fields),
                step=0,
                expires_at=expires_at,
            )
            for index, invitee in enumerate(chunk, start=rendered)
        ]
        groups = renderer.render_groups(views)
        rendered += sum(len(group.recipients) for group in groups)
        _notify_progress("batch", len(chunk))
    summary = plan.summary()
    summary.extra["dry_run"] = True
    summary.extra["rendered"] = rendered
    summary.notes.append(f"dry run: {rendered} invitations rendered, nothing sent or stored")
    return summary
