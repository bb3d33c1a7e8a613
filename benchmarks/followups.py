"""What `cxops followups` costs: N stored answers turned into tasks, against a plain loop.

One SQLite store with N confirmed answers to an NPS survey with two rules (detractor:
score <= 6, a call; promoter: score >= 9, a reference request), copied twice:

- **followups**: `cxops.followup.apply.apply_rules`, what `cxops followups` runs per
  survey inside its Prefect flow (batches of responses after the cursor, `decide` per
  response against its existing tasks, inserts, the cursor);
- **plain loop**: the same rule evaluation written by hand: read the answers and their
  contact rows, test each rule's `when` and render its task text and assignee with the
  same sandboxed `Evaluator`, compute the due date, insert the tasks 500 at a time.

Both timed in CPU seconds of this process (SQLite runs in it; the machine is shared,
wall time is printed too) and peak RSS. Prints tasks per second and the ratio. Usage:

    .venv/bin/python benchmarks/followups.py [--answers 100000]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from cxops.expr import Evaluator
from cxops.followup.apply import apply_rules
from cxops.followup.assign import choose_assignee
from cxops.followup.sla import due_at
from cxops.settings import Settings, get_settings
from cxops.spec import find_survey
from cxops.spec.models import Survey
from cxops.store.db import open_store
from cxops.store.models import Response, Send, Task
from cxops.testing.followup import SURVEY_ID, write_survey

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHUNK = 10_000
PLANS = ("starter", "team", "growth", "enterprise")


def seed(url: str, answers: int) -> None:
    """`answers` sent invitations and their confirmed, complete answers."""
    store = open_store(url)
    answered = NOW - timedelta(hours=2)
    try:
        for start in range(0, answers, CHUNK):
            indexes = range(start, min(start + CHUNK, answers))
            sends = [
                {
                    "send_id": f"s{i:011d}",
                    "survey_id": SURVEY_ID,
                    "wave_id": "2026-11",
                    "step": 0,
                    "contact_key": f"c{i}",
                    "email": f"c{i}@customer.example",
                    "segment": ("smb", "enterprise")[i % 2],
                    "locale": "en",
                    "contact": {
                        "name": f"Customer {i}",
                        "csm_email": f"csm{i % 40}@acme.example",
                        "plan": PLANS[i % 4],
                        "mrr": float(i % 900),
                    },
                    "status": "sent",
                    "batch": i // 1000,
                    "created_at": answered,
                    "sent_at": answered,
                }
                for i in indexes
            ]
            responses = [
                {
                    "send_id": f"s{i:011d}",
                    "survey_id": SURVEY_ID,
                    "wave_id": "2026-11",
                    "contact_key": f"c{i}",
                    "segment": ("smb", "enterprise")[i % 2],
                    "locale": "en",
                    "status": "complete",
                    "answers": {"score": (i * 7) % 11, "reason": "because"},
                    "suspect": False,
                    "first_answered_at": answered,
                    "submitted_at": answered,
                    "updated_at": answered,
                    "revision": 1,
                    "confirmed_at": answered,
                }
                for i in indexes
            ]
            with store.connect(write=True) as conn:
                conn.execute(insert(Send), sends)
                conn.execute(insert(Response), responses)
    finally:
        store.dispose()


def with_followups(url: str, survey: Survey, settings: Settings) -> int:
    store = open_store(url)
    try:
        run = apply_rules(settings, store, survey, now=NOW)
        return run.total("created")
    finally:
        store.dispose()


def plain_loop(url: str, survey: Survey, settings: Settings) -> int:
    evaluator = Evaluator(NOW, settings.holidays)
    rules = [(survey.rule_id(i), rule) for i, rule in enumerate(survey.followup)]
    store = open_store(url)
    made = 0
    try:
        with store.connect() as conn:
            rows = conn.execute(
                select(
                    Response.id,
                    Response.contact_key,
                    Response.segment,
                    Response.wave_id,
                    Response.answers,
                    Send.contact,
                )
                .join(Send, Send.send_id == Response.send_id)
                .where(Response.survey_id == survey.id)
                .order_by(Response.id)
            ).all()
        for start in range(0, len(rows), 500):
            tasks: list[dict[str, Any]] = []
            for rid, key, segment, wave, answers, contact in rows[start : start + 500]:
                context = {"contact": contact, "answers": answers, "segment": segment}
                for rule_id, rule in rules:
                    if not evaluator.test(rule.when, context):
                        continue
                    assigned = evaluator.render(rule.assign_to or "", context)
                    tasks.append(
                        {
                            "response_id": rid,
                            "survey_id": survey.id,
                            "wave_id": wave,
                            "contact_key": key,
                            "segment": segment,
                            "rule_id": rule_id,
                            "rule_version": "v1",
                            "title": evaluator.render(rule.task, context),
                            "assignee": choose_assignee(
                                assigned,
                                render_error=None,
                                fallback=rule.fallback,
                                owner=survey.owner,
                                sender=survey.owner,
                            ).email,
                            "priority": rule.priority,
                            "status": "open",
                            "context": {name: contact.get(name) for name in rule.context},
                            "created_at": NOW,
                            "due_at": due_at(NOW, rule.due, survey.timezone, settings.holidays),
                            "escalation_step": 0,
                            "steps": list(rule.steps),
                            "steps_done": [],
                        }
                    )
            if tasks:
                with store.connect(write=True) as conn:
                    conn.execute(insert(Task), tasks)
            made += len(tasks)
    finally:
        store.dispose()
    return made


def timed(name: str, work: Any, *args: Any) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    made = work(*args)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"  {name:11} {cpu:7.2f} s CPU  {wall:7.2f} s wall  {made / cpu:9,.0f} tasks/s")
    return cpu, wall, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_survey(root)
        settings = get_settings(project_dir=root, now=NOW)
        survey = find_survey(SURVEY_ID, root / "surveys", root, checks=False)
        seeded = root / "seeded.db"
        seed(f"sqlite:///{seeded}", args.answers)
        copies = {}
        for name in ("warm-up", "followups", "plain loop"):
            copies[name] = root / f"{name.replace(' ', '-')}.db"
            shutil.copyfile(seeded, copies[name])
        # Imports, compiled expressions, the file cache: both start warm.
        plain_loop(f"sqlite:///{copies['warm-up']}", survey, settings)
        print(f"{args.answers:,} answers, 2 rules")
        base, base_wall, base_made = timed(
            "plain loop", plain_loop, f"sqlite:///{copies['plain loop']}", survey, settings
        )
        cpu, wall, made = timed(
            "followups", with_followups, f"sqlite:///{copies['followups']}", survey, settings
        )
    assert made == base_made, (made, base_made)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  followups / plain loop: {cpu / base:.2f} x CPU, {wall / base_wall:.2f} x wall")
    print(f"  tasks made {made:,}; peak RSS of the process {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
