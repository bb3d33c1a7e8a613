"""What the contact policy costs a plan: `plan_only` over N contacts with a ledger of M sends.

Three runs over the same source and store (SQLite), each timed in CPU seconds of
this process (the machine is shared, wall time is not a measure here) end to end (read
the store's history, read the CSV, filter, exclude, iterate every invitee):

- **baseline**: `CXOPS_CONTACT_CAP=none`, no `policy.yaml` (suppressions and
  `surveyed_within` only, as before the policy existed);
- **cap**: `1 per 30d` (every invitation and reminder in the ledger counts);
- **cap + rules**: the cap and the three example rules of docs/survey-format.md's policy.yaml, one of them `per` account.

Prints contacts per second and the ratio of each to the baseline. Usage:

    .venv/bin/python benchmarks/policy.py [--contacts 100000] [--sends 50000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from cxops.settings import get_settings
from cxops.spec.models import Survey
from cxops.store import ledger
from cxops.store.db import open_store
from cxops.store.models import Send

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
POLICY = """\
rules:
  - name: enterprise-accounts
    when: "contact.plan == 'enterprise'"
    per: "contact.account_id"
    limit: 1 per 60d
  - name: no-executives
    when: "contact.title in ['CEO', 'CFO', 'Founder']"
    limit: never
  - name: not-in-renewal-month
    when: "contact.renewal_date and 0 <= days_until(contact.renewal_date) <= 30"
    limit: never
"""
PLANS = ("starter", "team", "growth", "enterprise")
TITLES = ("Engineer", "Analyst", "Manager", "CEO", "Designer", "CFO", "Support")


def write_source(path: Path, contacts: int, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,email,plan,title,account_id,renewal_date\n")
        for index in range(contacts):
            renewal = (NOW + timedelta(days=rng.randrange(-200, 365))).date().isoformat()
            handle.write(
                f"c{index},person{index}@example{index % 97}.com,{rng.choice(PLANS)},"
                f"{rng.choice(TITLES)},acc{index // 8},{renewal}\n"
            )


def seed_ledger(url: str, contacts: int, sends: int, rng: random.Random) -> None:
    store = open_store(url)
    try:
        chosen = rng.sample(range(contacts), min(sends, contacts))
        rows = [
            {
                "contact_key": f"c{i}",
                "email": f"person{i}@example{i % 97}.com",
                "segment": "all",
                "locale": "en",
                "contact": {"plan": "enterprise", "account_id": f"acc{i // 8}"},
            }
            for i in chosen
        ]
        ledger.add_invitees(store, "other", "w0", 0, rows, NOW - timedelta(days=20))
        with store.session(write=True) as session:
            session.execute(update(Send).values(status="sent", sent_at=NOW - timedelta(days=20)))
    finally:
        store.dispose()


def timed_plan(survey: Survey, project: Path, cap: str, policy: bool) -> tuple[float, int]:
    from cxops.sending import plan_only

    policy_file = project / "policy.yaml"
    if policy:
        policy_file.write_text(POLICY, encoding="utf-8")
    elif policy_file.exists():
        policy_file.unlink()
    settings = get_settings(project_dir=project, now=NOW, contact_cap=cap)
    start = time.process_time()
    plan = plan_only(survey, settings)
    invited = sum(1 for _ in plan.invitees)
    return time.process_time() - start, invited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--sends", type=int, default=50_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        write_source(project / "people.csv", args.contacts, rng)
        seed_ledger(f"sqlite:///{project / 'cxops.db'}", args.contacts, args.sends, rng)
        survey = Survey.model_validate(
            {
                "id": "pulse",
                "name": "Pulse",
                "kind": "nps",
                "audience": {
                    "source": {
                        "csv": "people.csv",
                        "key": "id",
                        "columns": {"renewal_date": "date"},
                    }
                },
                "questions": [{"id": "score", "type": "nps", "text": "Recommend us?"}],
                "invitation": {"template": "nps_invite", "from": "r@example.com"},
            }
        )
        timed_plan(survey, project, "none", False)  # warm-up: imports, file cache
        results = {
            "baseline": timed_plan(survey, project, "none", False),
            "cap": timed_plan(survey, project, "1 per 30d", False),
            "cap + rules": timed_plan(survey, project, "1 per 30d", True),
        }
    base = results["baseline"][0]
    print(f"{args.contacts:,} contacts, {args.sends:,} sends in the ledger")
    for name, (seconds, invited) in results.items():
        rate = args.contacts / seconds
        print(
            f"{name:12} {seconds:7.2f} s  {rate:9,.0f} contacts/s  invited {invited:,}  "
            f"{seconds / base:5.2f} x baseline"
        )


if __name__ == "__main__":
    main()
