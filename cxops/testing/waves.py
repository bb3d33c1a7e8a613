"""A wave's batches sent without Prefect, for tests of the wave path."""

from __future__ import annotations

from cxops.channels import make_channel
from cxops.messages.render import InvitationRenderer
from cxops.store import claims
from cxops.store.db import Store
from cxops.wave.ids import WaveContext
from cxops.wave.send import send_one_batch


def send_all(store: Store, wave: WaveContext) -> int:
    """The flow's batch loop without Prefect (the wave's gates asked as in a run); how
    many it sent."""
    renderer = InvitationRenderer(wave.survey, wave.settings, wave_id=wave.wave_id)
    channel = make_channel(wave.settings)
    claim_id = claims.new_claim_id()
    sent = 0
    try:
        while (result := send_one_batch(store, wave, channel, renderer, claim_id)).claimed:
            sent += result.sent
    finally:
        channel.close()
    return sent
