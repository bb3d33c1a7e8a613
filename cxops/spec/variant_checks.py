"""The checks of an invitation experiment (`invitation.variants`, `split`, `winner`) at
file:line: ids unique, every variant changing something, split and winner naming
variants, weights positive, a variant's reminder fitting the invitation's.

Templates a variant names are checked with the invitation's (`cxops.spec.checks`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cxops.errors import Problem
from cxops.spec.models import Invitation
from cxops.spec.yaml_marks import KeyPath, MarkedDocument

#: What a variant may change, in the order the messages name them.
CHANGES = ("subject", "template", "reminder", "send_window")


def variant_problems(invitation: Invitation, document: MarkedDocument) -> list[Problem]:
    """Every problem of the invitation's experiment, in file order."""
    problems = list(_variants(invitation, document))
    ids = [variant.id for variant in invitation.variants]
    problems += _split(invitation, document, ids)
    if invitation.winner is not None and invitation.winner not in ids:
        problems.append(
            document.problem(
                ("invitation", "winner"),
                f"expected one of the variants' ids{_ids(ids)}, found {invitation.winner!r}",
            )
        )
    return problems


def _variants(invitation: Invitation, document: MarkedDocument) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, variant in enumerate(invitation.variants):
        at: KeyPath = ("invitation", "variants", index)
        if variant.id in seen:
            yield document.problem(
                (*at, "id"), f"expected each variant id once, found {variant.id!r} again"
            )
        seen.add(variant.id)
        changed = [name for name in CHANGES if _changes(invitation, variant.id, name)]
        if not changed:
            yield document.problem(
                at,
                f"variant {variant.id!r} changes nothing: expected a subject, template, "
                "reminder or send_window that differs from the invitation's",
            )
        if variant.reminder is not None:
            yield from _reminder(invitation, document, index)


def _changes(invitation: Invitation, variant_id: str, name: str) -> bool:
    variant = invitation.variant(variant_id)
    if getattr(variant, name) is None:
        return False
    if name == "reminder":
        base = invitation.reminder
        return base is None or variant.reminder is None or base.after != variant.reminder.after
    return bool(getattr(variant, name) != getattr(invitation, name))


def _reminder(invitation: Invitation, document: MarkedDocument, index: int) -> Iterator[Problem]:
    at: KeyPath = ("invitation", "variants", index, "reminder")
    variant = invitation.variants[index]
    assert variant.reminder is not None
    if invitation.reminder is None:
        yield document.problem(
            at,
            "a variant's reminder changes the invitation's `reminder.after`: expected an "
            "invitation.reminder (with its max), found none",
        )
        return
    after = variant.reminder.after
    if after.approx_timedelta() >= invitation.expires_after.approx_timedelta():
        yield document.problem(
            (*at, "after"),
            f"expected a reminder before the invitation expires ({invitation.expires_after}), "
            f"found {after}",
        )


def _split(
    invitation: Invitation, document: MarkedDocument, ids: Sequence[str]
) -> Iterator[Problem]:
    split = invitation.split
    if split is None:
        return
    for variant_id, weight in split.items():
        at: KeyPath = ("invitation", "split", variant_id)
        if variant_id not in ids:
            yield document.problem(
                at,
                f"expected one of the variants' ids{_ids(ids)}, found {variant_id!r}",
                at_key=True,
            )
        elif not weight > 0:
            yield document.problem(
                at, f"expected a positive weight for variant {variant_id!r}, found {weight:g}"
            )
    missing = [variant_id for variant_id in ids if variant_id not in split]
    if missing and ids:
        yield document.problem(
            ("invitation", "split"),
            f"expected a weight for every variant, found none for {', '.join(map(repr, missing))}",
        )


def _ids(ids: Sequence[str]) -> str:
    return f" ({', '.join(ids)})" if ids else " (there are no variants)"
