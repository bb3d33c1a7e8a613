"""A wave's invitation variants: the assignment its planning writes into the ledger.

`assignment(survey, wave_id)` assigns each invitee of the wave in turn
(`cxops.audience.variants`: seeded permuted blocks per segment and quota round); with
`invitation.winner` everyone gets the winner; without variants, nobody gets one.
"""

from __future__ import annotations

from collections.abc import Callable

from cxops.audience import Invitee
from cxops.audience.variants import VariantAssigner, seed_text, variant_of
from cxops.errors import NotFoundError
from cxops.spec.models import Survey

Assign = Callable[[Invitee], str | None]


def assignment(survey: Survey, wave_id: str) -> Assign:
    """Each invitee's variant, in the order the wave plans them (None without variants)."""
    weights = survey.invitation.weights()
    if not weights:
        return lambda invitee: None
    assigner = VariantAssigner(weights, seed_text(survey.invitation.seed, survey.id, wave_id))
    return lambda invitee: assigner.assign(f"{invitee.segment}\0{invitee.round}")


def one_variant(survey: Survey, contact_key: str) -> str | None:
    """The variant of one person invited on their own (a triggered survey's event)."""
    weights = survey.invitation.weights()
    if not weights:
        return None
    return variant_of(weights, seed_text(survey.invitation.seed, survey.id, "events"), contact_key)


def preview_variant(survey: Survey, variant: str | None) -> Survey:
    """The survey as `preview --variant` renders it: that variant (default: the winner,
    else the first); the survey as it is without variants."""
    invitation = survey.invitation
    ids = [known.id for known in invitation.variants]
    if variant is None:
        return survey.for_variant(invitation.winner or (ids[0] if ids else None))
    if variant not in ids:
        known = ", ".join(ids) or "none"
        raise NotFoundError(
            f"survey {survey.id}: no invitation variant {variant!r} (variants: {known})"
        )
    return survey.for_variant(variant)
