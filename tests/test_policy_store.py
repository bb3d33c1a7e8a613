"""The policy over the real ledger (SQLite and PostgreSQL): what counts, and reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cxops.audience.contacts import Contact
from cxops.audience.eligibility import ContactHistory
from cxops.channels.base import Delivery
from cxops.policy.history import policy_history
from cxops.spec import find_survey
from cxops.store import claims, ledger
from cxops.store.contact_log import contacts_since
from cxops.store.db import Store
from cxops.store.models import Send

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def send(
    store: Store,
    email: str,
    *,
    survey: str,
    wave: str,
    step: int,
    at: datetime,
    outcome: str = "sent",
    fields: dict[str, Any] | None = None,
) -> None:
    row = {
        "contact_key": email,
        "email": email,
        "segment": "s",
        "locale": "en",
        "contact": fields or {},
    }
    ledger.add_invitees(store, survey, wave, step, [row], at)
    claim = f"t:{email}:{survey}:{wave}:{step}"
    claims.claim_batch(store, survey, wave, step, claim, 10, at)
    if outcome == "sending":
        return
    with store.session() as session:
        send_id = session.scalars(
            select(Send.send_id).where(
                Send.email == email,
                Send.survey_id == survey,
                Send.wave_id == wave,
                Send.step == step,
            )
        ).one()
    claims.mark_results(store, claim, [Delivery(send_id, outcome)], at)  # type: ignore[arg-type]


def test_every_step_that_may_have_arrived_counts_and_nothing_else(store: Store) -> None:
    send(store, "a@example.com", survey="nps", wave="w1", step=0, at=NOW - 9 * DAY)
    send(store, "a@example.com", survey="nps", wave="w1", step=1, at=NOW - 6 * DAY)
    send(
        store,
        "a@example.com",
        survey="csat",
        wave="w1",
        step=0,
        at=NOW - 5 * DAY,
        outcome="sending",
    )
    send(
        store, "a@example.com", survey="ces", wave="w1", step=0, at=NOW - 4 * DAY, outcome="failed"
    )
    send(store, "a@example.com", survey="ces", wave="w0", step=0, at=NOW - 40 * DAY)
    found = list(contacts_since(store, NOW - 30 * DAY))
    assert [(c.survey_id, c.step, c.status) for c in found] == [
        ("nps", 0, "sent"),
        ("nps", 1, "sent"),
        ("csat", 0, "sending"),
    ]
    assert all(c.at.tzinfo is not None for c in found)
    skipped = list(contacts_since(store, NOW - 30 * DAY, skip_wave=("nps", "w1")))
    assert [c.survey_id for c in skipped] == ["csat"]
    everyone = list(contacts_since(store, None, email="a@example.com", with_fields=True))
    assert len(everyone) == 4 and everyone[0].fields == {}


def test_a_reminder_is_held_by_a_rule_but_not_by_its_own_invitation(
    project: Any, store: Store
) -> None:
    """How a reminder round asks the policy: `policy_history` for the wave, one contact each."""
    project.write(
        {
            "policy.yaml": (
                "rules:\n  - name: no-executives\n    when: \"contact.title == 'CEO'\"\n    limit: never\n"
            )
        }
    )
    survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
    settings = project.settings()
    wave = "2026-11-01T0900"
    for email, title in (("boss@example.com", "CEO"), ("dev@example.com", "Engineer")):
        send(
            store,
            email,
            survey=survey.id,
            wave=wave,
            step=0,
            at=NOW - 3 * DAY,
            fields={"title": title},
        )
    history = policy_history(store, None, survey, settings, wave_id=wave, now=NOW)
    assert isinstance(history, ContactHistory)

    def reminder_reason(email: str, title: str) -> str | None:
        return history.contact_exclusion(Contact(email, email, 0, {"title": title}))

    # the cap (1 per 30d) does not count the wave's own invitation against its reminder
    assert reminder_reason("dev@example.com", "Engineer") is None
    assert reminder_reason("boss@example.com", "CEO") == "policy:no-executives"
    # another survey's contact in the window does count
    send(store, "dev@example.com", survey="csat-support", wave="x", step=0, at=NOW - DAY)
    again = policy_history(store, None, survey, settings, wave_id=wave, now=NOW)
    assert isinstance(again, ContactHistory)
    assert again.contact_exclusion(Contact("d", "dev@example.com", 0, {})) == "contact_cap"
