"""`cxops run --dry-run`: plan and render every invitation of the wave; send and store nothing."""

from __future__ import annotations

import dataclasses

from cxops.chunks import chunks
from cxops.messages.render import InvitationRenderer, SendView
from cxops.wave.ids import WaveContext
from cxops.wave.plan import json_safe, plan_only
from cxops.wave.progress import notify_progress
from cxops.wave.summary import WaveSummary


def dry_run_wave(wave: WaveContext) -> WaveSummary:
    """Plan and render every invitation of the wave, send and store nothing."""
    settings = wave.settings
    plan = plan_only(wave)
    renderer = InvitationRenderer(wave.survey, settings, wave_id=wave.wave_id)
    expires_at = wave.survey.invitation.expires_after.after(wave.now, settings.holidays)
    rendered = 0
    for chunk in chunks(plan.invitees, settings.batch_size):
        views = [
            SendView(
                send_id=f"dryrun{index:010d}",
                email=invitee.contact.email,
                contact_key=invitee.contact.key,
                segment=invitee.segment,
                locale=invitee.contact.locale,
                contact=json_safe(invitee.contact.fields),
                step=wave.step,
                expires_at=expires_at,
            )
            for index, invitee in enumerate(chunk, start=rendered)
        ]
        groups = renderer.render_groups(views)
        rendered += sum(len(group.recipients) for group in groups)
        notify_progress("batch", len(chunk))
    summary = dataclasses.replace(plan.summary(), dry_run=True, rendered=rendered)
    return summary.noted(f"dry run: {rendered} invitations rendered, nothing sent or stored")
