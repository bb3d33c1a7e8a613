"""`cxops run --dry-run`: plan and render every invitation of the wave; send and store nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from cxops.audience.select import Invitee
from cxops.chunks import chunks
from cxops.messages.render import InvitationRenderer, SendView
from cxops.wave.ids import WaveContext
from cxops.wave.plan import json_safe, plan_only
from cxops.wave.progress import notify_progress
from cxops.wave.summary import WaveSummary
from cxops.wave.variants import assignment

T = TypeVar("T")


def dry_run_wave(wave: WaveContext) -> WaveSummary:
    """Plan and render every invitation of the wave, send and store nothing."""
    plan = plan_only(wave)
    # The variants the wave would assign, in the plan's order (each invitee once).
    assign = assignment(wave.survey, wave.wave_id)

    def view(index: int, invitee: Invitee, expires_at: datetime) -> SendView:
        return SendView(
            send_id=f"dryrun{index:010d}",
            email=invitee.contact.email,
            contact_key=invitee.contact.key,
            segment=invitee.segment,
            locale=invitee.contact.locale,
            contact=json_safe(invitee.contact.fields),
            step=wave.step,
            expires_at=expires_at,
            variant=assign(invitee),
        )

    rendered = render_all(wave, plan.invitees, view, on_chunk=lambda n: notify_progress("batch", n))
    summary = dataclasses.replace(plan.summary(), dry_run=True, rendered=rendered)
    return summary.noted(f"dry run: {rendered} invitations rendered, nothing sent or stored")


def render_all(
    wave: WaveContext,
    items: Iterable[T],
    view: Callable[[int, T, datetime], SendView],
    *,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Render a message for each of `items` (`view` makes its send view from its index,
    the item and the wave's expiry), a batch at a time; how many were rendered. Nothing
    is sent or stored: a dry run proves the templates work for every contact."""
    renderer = InvitationRenderer(wave.survey, wave.settings, wave_id=wave.wave_id)
    expires_at = wave.survey.invitation.expires_after.after(wave.now, wave.settings.holidays)
    rendered = 0
    for chunk in chunks(items, wave.settings.batch_size):
        views = [view(index, item, expires_at) for index, item in enumerate(chunk, start=rendered)]
        rendered += sum(len(group.recipients) for group in renderer.render_groups(views))
        if on_chunk is not None:
            on_chunk(len(chunk))
    return rendered
