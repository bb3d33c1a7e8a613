"""One batch of a wave: claim pending rows, render them, send and record the outcome.

Whether a person was invited is answered by the ledger: a row is claimed before its
message is rendered, and its outcome is recorded by `cxops.wave.deliver`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cxops.channels.base import BatchContext, Channel, Delivery
from cxops.errors import ConfigError, CxopsError, TemplateError
from cxops.gates.base import Gates
from cxops.messages.render import InvitationRenderer, RenderableSend
from cxops.store.claims import claim_batch, mark_results, recover_dead_claims, resend_in_doubt
from cxops.store.db import Store
from cxops.store.holds import held_counts
from cxops.store.ledger import failed_reasons, has_pending, wave_counts
from cxops.store.reminders import invitation_times
from cxops.wave.deliver import send_and_record
from cxops.wave.gating import allowed_segments, claim_gates, screen_claimed
from cxops.wave.ids import WaveContext
from cxops.wave.pause import stop_if_paused
from cxops.wave.progress import notify_planned, notify_progress
from cxops.wave.summary import WaveSummary, with_counts, with_held


@dataclass
class BatchResult:
    batch: int
    claimed: int
    sent: int = 0
    failed: int = 0
    in_doubt: int = 0
    retry: int = 0
    #: The channel's reason for the last message back to `retry` (None: none was).
    error: str | None = None
    #: Claimed rows a gate made wait or skipped (not sent by this batch), by reason.
    gated: dict[str, int] = field(default_factory=dict)

    @property
    def progressed(self) -> bool:
        """Whether any message of the batch got an outcome other than `retry` (a row a
        gate held or skipped got its outcome)."""
        offered = self.claimed - sum(self.gated.values())
        return offered == 0 or self.retry < offered


def start_sending(store: Store, wave: WaveContext, *, resend_in_doubt_too: bool) -> list[str]:
    """Before the first claim: dead runs' claims become in doubt; with `resend_in_doubt_too`
    the in-doubt rows go back to pending. The notes for the summary."""
    settings = wave.settings
    lease = settings.send_lease_seconds
    recover_dead_claims(store, wave.survey_id, wave.wave_id, wave.step, wave.now, lease)
    if not resend_in_doubt_too:
        return []
    moved = resend_in_doubt(store, wave.survey_id, wave.wave_id, wave.step)
    return [f"{moved} in-doubt invitations put back to be sent again"]


def has_work(store: Store, wave: WaveContext) -> bool:
    """Whether a row of the wave waits to be claimed."""
    return has_pending(store, wave.survey_id, wave.wave_id, wave.step)


def announce_planned(store: Store, wave: WaveContext) -> None:
    """Tell progress listeners how many recipients are left to send."""
    notify_planned(wave_counts(store, wave.survey_id, wave.wave_id, wave.step))


def send_one_batch(
    store: Store,
    wave: WaveContext,
    channel: Channel,
    renderer: InvitationRenderer,
    claim_id: str,
    *,
    gates: Gates | None = None,
) -> BatchResult:
    """Claim up to `batch_size` pending rows, render, send and record; claimed=0 when done.

    The wave's gates (default: `cxops.gates.registry.gates_for`'s, built once per run) are
    asked first for each segment (only the segments they let through are claimed), then
    for each claimed row (`cxops.wave.gating`)."""
    settings, survey = wave.settings, wave.survey
    now = settings.clock()
    # The deliverability breaker judges the wave as a whole: its hold pauses the wave
    # (written, one line) instead of making rows wait (`cxops.wave.pause`).
    stop_if_paused(store, wave, now)
    gates = gates if gates is not None else claim_gates(store, wave)
    segments = allowed_segments(store, wave, gates, now)
    if segments is not None and not segments:
        return BatchResult(batch=-1, claimed=0)
    expires_at = survey.invitation.expires_after.after(now, settings.holidays)
    claimed = claim_batch(
        store,
        survey.id,
        wave.wave_id,
        wave.step,
        claim_id,
        settings.batch_size,
        now,
        expires_at=expires_at,
        segments=segments,
    )
    if not claimed:
        return BatchResult(batch=-1, claimed=0)
    screened = screen_claimed(store, wave, gates, claim_id, claimed, now)
    gated = {**screened.held}
    for reason, count in screened.skipped.items():
        gated[reason] = gated.get(reason, 0) + count
    rows = screened.rows
    if not rows:
        notify_progress("batch", len(claimed))
        return BatchResult(batch=-1, claimed=len(claimed), gated=gated)
    if wave.step > 0:
        # A reminder's links are the invitation's: they expire when the invitation does.
        invited = invitation_times(store, survey.id, wave.wave_id, [r.contact_key for r in rows])
        for row in rows:
            start = invited.get(row.contact_key)
            if start is not None:
                row.expires_at = survey.invitation.expires_after.after(start, settings.holidays)
    # Claims are disjoint, so their first ledger id names the batch uniquely (outbox files).
    batch_no = min(row.id for row in rows)
    result = BatchResult(batch=batch_no, claimed=len(claimed), gated=gated)

    def release() -> None:
        retry = [Delivery(row.send_id, "retry") for row in rows]
        mark_results(store, claim_id, retry, settings.clock())

    try:
        groups = renderer.render_groups(rows)
    except ConfigError:
        release()
        raise  # a setting (the signing key, say), not the template: its own line
    except CxopsError as exc:
        # A template that breaks for anyone stops the wave before this batch sends: the
        # rows go back to pending, and the run after the fix sends each of them once.
        release()
        raise _cannot_render(renderer, rows, exc, wave) from None
    except BaseException:
        release()
        raise
    context = BatchContext(
        survey_id=survey.id, wave_id=wave.wave_id, batch=batch_no, step=wave.step
    )

    def record(deliveries: Sequence[Delivery]) -> None:
        mark_results(store, claim_id, deliveries, settings.clock(), channel=channel.name)

    for delivery in send_and_record(channel, groups, context, record):
        if delivery.status == "sent":
            result.sent += 1
        elif delivery.status == "failed":
            result.failed += 1
        elif delivery.status == "in_doubt":
            result.in_doubt += 1
        else:
            result.retry += 1
            result.error = delivery.error or result.error
    notify_progress("batch", result.claimed)
    return result


def _cannot_render(
    renderer: InvitationRenderer,
    sends: Sequence[RenderableSend],
    error: CxopsError,
    wave: WaveContext,
) -> TemplateError:
    """The one line for a batch that does not render: the first contact whose message
    fails alone, the template's reason (its file and line), and how to resume."""
    resume = (
        "nothing of its batch was sent; fix the template, then "
        f"`cxops run {wave.survey_id} --wave {wave.wave_id}` to resume"
    )
    for send in sends:
        try:
            renderer.render_alone(send)
        except CxopsError as exc:
            return TemplateError(
                f"cannot render the invitation for contact {send.contact_key!r}: {exc} ({resume})"
            )
    return TemplateError(f"cannot render the invitations of a batch: {error} ({resume})")


def finish_summary(store: Store, wave: WaveContext, planned: WaveSummary) -> WaveSummary:
    """The planned summary with the ledger's current counts (sent, in doubt, failed).

    Claims of runs that died first become in doubt; rows still `sending` after that
    belong to a live run (another `cxops run` of the same wave) and are in flight.
    """
    settings = wave.settings
    recover_dead_claims(
        store,
        wave.survey_id,
        wave.wave_id,
        wave.step,
        settings.clock(),
        settings.send_lease_seconds,
    )
    counts = wave_counts(store, wave.survey_id, wave.wave_id, wave.step, now=settings.clock())
    reasons = failed_reasons(store, wave.survey_id, wave.wave_id, wave.step)
    summary = with_counts(planned, counts, reasons)
    summary = with_held(summary, held_counts(store, wave.survey_id, wave.wave_id, wave.step))
    if wave.survey.interview is not None:
        from cxops.interviews.service import with_recruitment

        summary = with_recruitment(summary, store, wave.survey, wave.wave_id)
    return summary
