"""Planning a wave into the ledger: every invitee a `pending` row before anything is sent.

A re-run finds the wave planned and resumes from the stored summary. A big source
(over `PARALLEL_PLANNING_BYTES`) is planned in its own process while the flow already
claims and sends what is in the ledger: both cores work, and claims remain the only
way to a send.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from cxops.audience import Invitee
from cxops.errors import CxopsError
from cxops.gates.quota import RoundTimes
from cxops.locales import resolve_locale
from cxops.store.db import Store, open_store
from cxops.store.holds import reason_text
from cxops.store.ledger import add_invitees
from cxops.wave import status
from cxops.wave.ids import WaveContext
from cxops.wave.minimise import kept_columns, minimised
from cxops.wave.plan import history_and_gates, json_safe, plan_wave
from cxops.wave.summary import WaveSummary
from cxops.wave.variants import assignment

#: Sources larger than this are planned in a separate process (the machine's other
#: core) while the first batches are already being sent; smaller ones are planned first,
#: which costs less than starting a process.
PARALLEL_PLANNING_BYTES = 4 * 1024 * 1024


def ledger_row(
    invitee: Invitee, kept: frozenset[str] | None = None, variant: str | None = None
) -> dict[str, Any]:
    """An invitee as `add_invitees` takes it, with only the `kept` contact columns
    (`cxops.wave.minimise.kept_columns`; None: all), `not_before`/`held` when a gate
    planned them to wait, and the invitation `variant` assigned (if any)."""
    contact = invitee.contact
    fields = contact.fields if kept is None else minimised(contact.fields, kept)
    row: dict[str, Any] = {
        "contact_key": contact.key,
        "email": contact.email,
        "segment": invitee.segment,
        "locale": (contact.locale or "en")[:16],
        "contact": json_safe(fields),
    }
    if variant is not None:
        row["variant"] = variant
    if invitee.waits is not None:
        # A gate held them back at planning: the row waits, due at `not_before`.
        row["not_before"] = invitee.waits.until
        row["held"] = reason_text(invitee.waits.reason)
    return row


def add_in_locale_batches(
    wave: WaveContext, store: Store, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Write ledger rows (`ledger_row`'s shape) of `wave.step` so that each batch holds
    one locale.

    Messages of one locale render as one group, so a single-locale batch becomes one
    SendGrid request of up to 1,000 personalizations instead of one per locale.
    """
    offered = wave.survey.invitation.locales
    size = wave.settings.batch_size
    buffers: dict[str, list[Mapping[str, Any]]] = {}

    def flush(bucket: list[Mapping[str, Any]]) -> None:
        add_invitees(
            store, wave.survey_id, wave.wave_id, wave.step, bucket, wave.now, batch_size=size
        )
        bucket.clear()

    for row in rows:
        bucket = buffers.setdefault(resolve_locale(row["locale"], offered), [])
        bucket.append(row)
        if len(bucket) >= size:
            flush(bucket)
    for bucket in buffers.values():
        if bucket:
            flush(bucket)


def prepare_wave(store: Store, wave: WaveContext) -> WaveSummary:
    """Put the wave's invitees into the ledger once; a re-run finds them there and resumes."""
    earlier = status.planned_summary(store, wave)
    if earlier is not None:
        return earlier.noted("resumed: the wave was planned by an earlier run")
    history, gates = history_and_gates(store, wave)
    plan = plan_wave(wave, history=history, gates=gates)
    kept = kept_columns(wave.survey, wave.settings)
    # Quota rounds: round k's rows wait until the wave's start + (k - 1) x every.
    rounds = RoundTimes.of(wave.survey, wave.now, wave.settings.holidays)
    # Variants are assigned here, in the plan's (seeded) order, and written with the row.
    assign = assignment(wave.survey, wave.wave_id)
    rows = rounds.timed(
        (ledger_row(invitee, kept, assign(invitee)), invitee.round) for invitee in plan.invitees
    )
    add_in_locale_batches(wave, store, rows)
    summary = plan.summary()
    status.mark_planned(store, wave, summary)
    return summary


def plans_in_parallel(store: Store, wave: WaveContext) -> bool:
    """Plan this wave in its own process? Only a big file source of a wave not yet planned."""
    source = wave.survey.audience.source
    path_text = getattr(source, "csv", None) or getattr(source, "parquet", None)
    if path_text is None or wave.survey.source_path is None:
        return False
    path = Path(path_text)
    path = path if path.is_absolute() else wave.settings.project_dir / path
    if not path.is_file() or path.stat().st_size < PARALLEL_PLANNING_BYTES:
        return False
    return status.needs_planning(store, wave)


#: Planning processes running now (`stop_planning` ends them when the wave stops).
_planners: set[BaseProcess] = set()


class PlanningFailed(CxopsError):
    """The planning process ended without a summary (it was killed, or crashed)."""


def prepare_wave_in_process(wave: WaveContext) -> WaveSummary:
    """`prepare_wave` in a fresh process, so planning and sending use both cores."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_prepare_in_child, args=(wave, sender), daemon=True)
    process.start()
    sender.close()
    _planners.add(process)
    try:
        kind, value = receiver.recv()
    except EOFError:
        process.join()
        raise PlanningFailed(
            f"planning {wave.survey_id} stopped without a result (exit code {process.exitcode})"
        ) from None
    finally:
        receiver.close()
        _planners.discard(process)
    process.join()
    if kind == "error":
        raise value
    summary: WaveSummary = value
    return summary


def stop_planning() -> None:
    """End every planning process of this process (the wave is stopping)."""
    for process in list(_planners):
        process.terminate()
    for process in list(_planners):
        process.join(timeout=5)


def _prepare_in_child(wave: WaveContext, sender: Connection) -> None:
    # The flow opened (and upgraded) the store before it started this process.
    store = open_store(wave.settings.store_url, upgrade=False)
    try:
        with long_lived_heap_frozen():
            summary = prepare_wave(store, wave)
    except Exception as exc:
        sender.send(("error", exc))
    else:
        sender.send(("ok", summary))
    finally:
        store.dispose()
        sender.close()


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
