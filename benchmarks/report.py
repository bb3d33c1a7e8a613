"""`cxops report --json` on a store of 1,000,000 answers against a plain SQL GROUP BY.

    python benchmarks/report.py                 # 1,000,000 answers (about a minute to build)
    python benchmarks/report.py --answers 100000

Builds a SQLite store with bulk inserts (the real schema, migrated by cxops): four
quarterly waves of an NPS survey, 1.25 invitations per answer, three segments, a
comment on one answer in five, follow-up tasks on one detractor in ten. Then, each
in its own process and side by side (median of three):

- **baseline**: the same counts in plain SQL (sqlite3 module, no cxops): answers by
  wave × segment × status × suspect × score, invitations by wave × segment, and
  comments by wave × theme keyword (LIKE);
- **report**: `cxops report --json` (the whole report: intervals, changes, themes
  with revenue at stake, the loop), as a user runs it, start-up included;
- **report in-process**: `build_from_store` alone (no interpreter start-up);
- **report with outcome**: the survey names an outcome column, so the report also
  reads the source CSV for the customers with tasks.

Prints wall and CPU times (each child's own, via wait4), the ratios to the baseline and
each process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-23T09:00:00+00:00"
WAVES = ["2026-01-01T0900", "2026-04-01T0900", "2026-07-01T0900", "2026-10-01T0900"]
SEGMENTS = ["enterprise", "growth", "smb"]
COMMENTS = [
    "Too expensive for what we use",
    "The setup was confusing and the docs are thin",
    "Support took days to answer my ticket",
    "Outage last week hurt us",
    "Love the reports",
    "Solid product, fair price",
    "Preis ist zu hoch",
    "Nothing to add",
]
SURVEY = """\
id: bench-report
name: Benchmark report NPS
kind: nps
audience:
  source:
    csv: data/contacts.csv
    key: id
    columns: {mrr: float}
  segments:
    enterprise: "contact.plan == 'enterprise'"
    growth: "contact.plan == 'growth'"
    smb: "contact.plan == 'smb'"
questions:
  - {id: score, type: nps, text: "How likely are you to recommend us?"}
  - {id: reason, type: text, text: "Why?", required: false}
invitation:
  template: nps_invite
  from: "Research <research@acme.example>"
themes:
  pricing: [price, pricing, expensive, cost]
  onboarding: [onboarding, setup, set up, docs]
  reliability: [outage, downtime, slow, bug]
  support: [support, ticket, help desk]
report:
  revenue: mrr
"""
OUTCOME = "  outcome: {column: status, churned: churned}\n"

BASELINE = """
import json, resource, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
started = time.perf_counter()
counts = db.execute(
    "SELECT wave_id, segment, status, suspect, json_extract(answers, '$.score'), count(*)"
    " FROM responses WHERE survey_id = 'bench-report'"
    " GROUP BY wave_id, segment, status, suspect, json_extract(answers, '$.score')"
).fetchall()
invited = db.execute(
    "SELECT wave_id, segment, count(*) FROM sends WHERE survey_id = 'bench-report'"
    " AND step = 0 AND status = 'sent' GROUP BY wave_id, segment"
).fetchall()
themes = db.execute(
    "SELECT wave_id,"
    " sum(lower(json_extract(answers, '$.reason')) LIKE '%price%' OR lower(json_extract(answers, '$.reason')) LIKE '%expensive%'),"
    " sum(lower(json_extract(answers, '$.reason')) LIKE '%setup%' OR lower(json_extract(answers, '$.reason')) LIKE '%docs%'),"
    " sum(lower(json_extract(answers, '$.reason')) LIKE '%outage%' OR lower(json_extract(answers, '$.reason')) LIKE '%slow%'),"
    " sum(lower(json_extract(answers, '$.reason')) LIKE '%support%' OR lower(json_extract(answers, '$.reason')) LIKE '%ticket%')"
    " FROM responses WHERE survey_id = 'bench-report' AND suspect = 0"
    " AND json_extract(answers, '$.reason') IS NOT NULL GROUP BY wave_id"
).fetchall()
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "groups": len(counts) + len(invited) + len(themes),
                  "answers": sum(row[-1] for row in counts)}))
"""

IN_PROCESS = """
import json, sys, time
from cxops.analysis.report import build_from_store
from cxops.settings import get_settings
from cxops.spec import find_survey
settings = get_settings()
survey = find_survey("bench-report", settings.surveys_path, settings.project_dir)
started = time.perf_counter()
report = build_from_store(survey, settings)
print(json.dumps({"seconds": time.perf_counter() - started, "n": report.overall.n}))
"""


def build(project: Path, answers: int, seed: int = 7) -> Path:
    """The project with its survey, source CSV and a store of `answers` answers."""
    rng = random.Random(seed)
    (project / "surveys").mkdir(parents=True)
    (project / "data").mkdir()
    subprocess.run(["cp", "-r", str(REPO / "templates"), str(project / "templates")], check=True)
    (project / "surveys" / "bench-report.yaml").write_text(SURVEY, encoding="utf-8")
    per_wave = answers // len(WAVES)
    people = int(per_wave * 1.25)
    plans = [rng.choice(SEGMENTS) for _ in range(people)]
    mrr = [round(rng.lognormvariate(6, 1), 2) for _ in range(people)]
    with (project / "data" / "contacts.csv").open("w", encoding="utf-8") as out:
        out.write("id,email,plan,status,mrr\n")
        for i in range(people):
            status = "churned" if rng.random() < 0.08 else "active"
            out.write(f"c{i},c{i}@example.com,{plans[i]},{status},{mrr[i]}\n")
    url = f"sqlite:///{project / 'cxops.db'}"
    env = {**os.environ, "CXOPS_PROJECT_DIR": str(project), "CXOPS_DATABASE_URL": url}
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from cxops.store.db import open_store; open_store(__import__('sys').argv[1]).dispose()",
            url,
        ],
        check=True,
        env=env,
    )
    db = sqlite3.connect(project / "cxops.db")
    db.execute("PRAGMA synchronous = OFF")
    response_id = task_count = 0
    for w, wave in enumerate(WAVES):
        db.execute(
            "INSERT INTO waves (survey_id, wave_id, started_at, status, summary)"
            " VALUES ('bench-report', ?, ?, 'complete', '{}')",
            (wave, f"2026-{1 + 3 * w:02d}-01 09:00:00.000000"),
        )
        sends, responses, tasks = [], [], []
        at = f"2026-{1 + 3 * w:02d}-01 10:00:00.000000"
        answering = set(rng.sample(range(people), per_wave))
        for i in range(people):
            send_id = uuid.UUID(int=rng.getrandbits(128)).hex
            contact = json.dumps({"plan": plans[i], "mrr": mrr[i]})
            sends.append((send_id, wave, f"c{i}", f"c{i}@example.com", plans[i], contact, at))
            if i not in answering:
                continue
            response_id += 1
            score = min(10, max(0, round(rng.gauss(7.2, 2.4))))
            answer: dict[str, object] = {"score": score}
            if rng.random() < 0.2:
                answer["reason"] = rng.choice(COMMENTS)
            status = "complete" if rng.random() < 0.9 else "partial"
            suspect = rng.random() < 0.005
            responses.append(
                (response_id, send_id, wave, f"c{i}", plans[i], status, json.dumps(answer),
                 int(suspect), "too_fast" if suspect else None, at, at, at, at)
            )  # fmt: skip
            if score <= 6 and rng.random() < 0.1:
                done = rng.random() < 0.6
                tasks.append(
                    (response_id, wave, f"c{i}", plans[i], "done" if done else "open",
                     rng.choice(["contacted", "resolved", "no response"]) if done else None, at, at)
                )  # fmt: skip
                task_count += 1
        db.executemany(
            "INSERT INTO sends (send_id, survey_id, wave_id, step, contact_key, email, segment,"
            " locale, contact, status, batch, created_at, sent_at)"
            " VALUES (?, 'bench-report', ?, 0, ?, ?, ?, 'en', ?, 'sent', 0, ?, ?)",
            [(*row, row[-1]) for row in sends],
        )
        db.executemany(
            "INSERT INTO responses (id, send_id, survey_id, wave_id, contact_key, segment, locale,"
            " status, answers, suspect, suspect_reason, first_answered_at, submitted_at,"
            " updated_at, confirmed_at, revision)"
            " VALUES (?, ?, 'bench-report', ?, ?, ?, 'en', ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            responses,
        )
        db.executemany(
            "INSERT INTO tasks (response_id, survey_id, wave_id, contact_key, segment, rule_id,"
            " rule_version, title, assignee, priority, status, outcome, context, created_at,"
            " due_at, escalation_step) VALUES (?, 'bench-report', ?, ?, ?, 'rule_1', 'v1',"
            " 'Call', 'csm@example.com', 'high', ?, ?, '{}', ?, ?, 0)",
            tasks,
        )
        db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()
    print(
        f"store: {response_id:,} answers, {people * len(WAVES):,} invitations, {task_count:,} tasks"
    )
    return project / "cxops.db"


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str, float]:
    """Wall seconds, peak RSS in KiB and CPU seconds (this child alone, via wait4), stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        error = child.stderr.read().decode() if child.stderr else ""
        out.seek(0)
        text = out.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed: {error[-2000:]}")
    return elapsed, usage.ru_maxrss, text, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="Keep (or reuse) the project and store here.")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build(args.dir, args.answers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        project = args.dir or Path(tmp) / "project"
        database = project / "cxops.db"
        if not database.exists():
            # In a child process: this one stays small, so a child's peak RSS is its own.
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--build-only", "--dir", str(project),
                 "--answers", str(args.answers)],
                check=True,
            )  # fmt: skip
            print(
                f"built in {time.perf_counter() - started:.1f} s ({database.stat().st_size / 2**20:.0f} MiB)"
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CXOPS_")}
        env |= {"CXOPS_PROJECT_DIR": str(project), "CXOPS_NOW": NOW}
        runs: dict[str, list[tuple[float, int, str, float]]] = {
            "baseline": [], "report": [], "in_process": [], "with_outcome": []
        }  # fmt: skip
        report_cli = [sys.executable, "-m", "cxops", "report", "bench-report", "--json"]
        for _ in range(args.repeat):
            runs["baseline"].append(
                measure([sys.executable, "-c", BASELINE, str(database)], env, project)
            )
            runs["report"].append(measure(report_cli, env, project))
            runs["in_process"].append(measure([sys.executable, "-c", IN_PROCESS], env, project))
        survey = project / "surveys" / "bench-report.yaml"
        survey.write_text(SURVEY + OUTCOME, encoding="utf-8")
        try:
            for _ in range(args.repeat):
                runs["with_outcome"].append(measure(report_cli, env, project))
        finally:
            survey.write_text(SURVEY, encoding="utf-8")
        report = json.loads(runs["report"][0][2])
        base = json.loads(runs["baseline"][0][2])
        assert report["overall"]["n"] + report["excluded"]["total"] == base["answers"]
        wall = {name: statistics.median(r[0] for r in items) for name, items in runs.items()}
        rss = {name: max(r[1] for r in items) / 1024 for name, items in runs.items()}
        # CPU seconds too: on a shared machine, wall time also measures the neighbours.
        cpu = {name: statistics.median(r[3] for r in items) for name, items in runs.items()}
        sql = statistics.median(json.loads(r[2])["seconds"] for r in runs["baseline"])
        inner = statistics.median(json.loads(r[2])["seconds"] for r in runs["in_process"])
        nps = report["overall"]["questions"]["score"]["metrics"]["nps"]
        print(
            f"answers counted {report['overall']['n']:,} (suspect left out {report['excluded']['total']:,}); NPS {nps}"
        )
        print(
            f"{'':34}{'wall s':>9}{'× baseline':>12}{'CPU s':>8}{'× baseline':>12}{'peak RSS':>11}"
        )
        rows = [
            ("baseline: plain SQL GROUP BYs", "baseline"),
            ("cxops report --json", "report"),
            ("build_from_store in-process", "in_process"),
            ("cxops report --json + outcome", "with_outcome"),
        ]
        for title, name in rows:
            print(
                f"{title:34}{wall[name]:9.2f}{wall[name] / wall['baseline']:11.2f}×"
                f"{cpu[name]:8.2f}{cpu[name] / cpu['baseline']:11.2f}×{rss[name]:8.0f} MiB"
            )
        print(
            f"queries alone: baseline {sql:.2f} s, report computation {inner:.2f} s = {inner / sql:.2f} ×"
        )


if __name__ == "__main__":
    main()
