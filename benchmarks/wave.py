"""Wave throughput, memory and start-up, as ratios against baselines from the same run.

    python benchmarks/wave.py                # 100,000 synthetic contacts
    python benchmarks/wave.py --million      # 1,000,000 (peak RSS must stay under 1 GiB)

Prints, from one run:
- contacts/s of a full wave (the real Prefect flow: read, select, ledger, claim, render,
  send) into the outbox and into a local SendGrid-compatible server;
- the floor: per-recipient Jinja render of subject, HTML and text plus the ledger
  insert, in a plain loop (no Prefect, no channel);
- a naive baseline: one Prefect task per contact (render, ledger row, one Mail Send
  request to the same local SendGrid server), on 2,000;
- the ratios, peak RSS of each wave, Mail Send requests per 1,000 recipients;
- the wall time of a 10-contact `cxops run` against a trivial Prefect flow run.
Each measured wave runs in its own process, so peak RSS is that wave's alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-23T09:00:00+00:00"
API_KEY = "SG.benchmark-key"

SURVEY = """\
id: bench-nps
name: Benchmark NPS
kind: nps
owner: research-ops@acme.example
audience:
  source:
    csv: data/contacts.csv
    key: id
    columns: {seats: int, mrr: float, signup_date: date}
  filter: "contact.status == 'active' or contact.status != 'active'"
  segments:
    enterprise: "contact.plan == 'enterprise'"
    growth: "contact.plan == 'growth'"
    smb: "contact.plan in ['starter', 'team']"
questions:
  - {id: score, type: nps, text: "How likely are you to recommend Acme to a friend or colleague?"}
  - {id: reason, type: text, text: "What is the main reason for your score?", required: false}
invitation:
  template: nps_invite
  from: "Acme Research <research@acme.example>"
  locales: [en, de, fr]
  expires_after: 14d
"""


def make_project(root: Path, contacts: int) -> Path:
    sys.path.insert(0, str(REPO / "scripts"))
    from make_sample_data import generate_customers

    (root / "surveys").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "surveys" / "bench-nps.yaml").write_text(SURVEY)
    rows = generate_customers(contacts, datetime.fromisoformat(NOW), 11, edge_cases=False)
    first = next(rows)
    with (root / "data" / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(first), lineterminator="\n")
        writer.writeheader()
        writer.writerow(first)
        writer.writerows(rows)
    return root


def child_env(project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXOPS_")}
    env.update({"CXOPS_PROJECT_DIR": str(project), "CXOPS_NOW": NOW, **extra})
    return env


def sendgrid_env(project: Path, prefect_home: Path, url: str) -> dict[str, str]:
    """A child's environment sending through the local SendGrid-compatible server."""
    return child_env(
        project,
        PREFECT_HOME=str(prefect_home),
        CXOPS_CHANNEL="sendgrid",
        CXOPS_SENDGRID_API_KEY=API_KEY,
        CXOPS_SENDGRID_API_URL=url,
    )


def run_child(mode: str, project: Path, env: dict[str, str], *args: str) -> dict:
    """Run one measurement in a fresh process; its JSON line and its peak RSS."""
    command = [sys.executable, __file__, "--child", mode, "--project", str(project), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- children: each measures one thing in its own process ------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_wave(project: Path) -> dict:
    """A full wave through the real Prefect flow (after a warm-up flow starts the API)."""
    from prefect import flow

    from cxops.settings import get_settings
    from cxops.spec import load_survey
    from cxops.wave.run import run_wave

    @flow
    def warm_up() -> int:
        return 1

    warm_up()
    settings = get_settings(project_dir=project)
    started = time.perf_counter()
    survey = load_survey(project / "surveys" / "bench-nps.yaml", project_dir=project)
    summary = run_wave(survey, settings)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "sent": summary.sent,
        "failed": summary.failed,
        "in_doubt": summary.in_doubt,
        "peak_rss_mb": _peak_rss_mb(),
        # the largest finished child: the planner process (or Prefect's API server)
        "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def first_contacts(survey, project: Path, limit: int) -> list:
    """The first `limit` valid contacts of the survey's source."""
    from cxops.audience import Contact, read_source

    contacts = []
    for row in read_source(survey.audience.source, project):
        if isinstance(row, Contact):
            contacts.append(row)
        if len(contacts) >= limit:
            break
    return contacts


def child_floor(project: Path, limit: int) -> dict:
    """Per-recipient render (subject, HTML, text) + ledger insert, in a plain loop."""
    from cxops.messages.render import InvitationRenderer, SendView
    from cxops.settings import get_settings
    from cxops.spec import load_survey
    from cxops.store import ledger
    from cxops.store.db import open_store
    from cxops.wave.plan import json_safe

    settings = get_settings(project_dir=project)
    survey = load_survey(project / "surveys" / "bench-nps.yaml", project_dir=project)
    contacts = first_contacts(survey, project, limit)
    store = open_store(f"sqlite:///{project / 'floor.db'}")
    renderer = InvitationRenderer(survey, settings, wave_id="floor")
    expires = datetime(2026, 12, 7, tzinfo=UTC)
    now = settings.clock()
    started = time.perf_counter()
    batch: list[dict] = []
    for contact in contacts:
        view = SendView(
            send_id=f"floor{contact.key}",
            email=contact.email,
            contact_key=contact.key,
            segment="all",
            locale=contact.locale,
            contact=json_safe(contact.fields),
            step=0,
            expires_at=expires,
        )
        renderer.render_one(view)
        batch.append(
            {
                "contact_key": contact.key,
                "email": contact.email,
                "segment": "all",
                "locale": contact.locale or "en",
                "contact": view.contact,
            }
        )
        if len(batch) >= 1000:
            ledger.add_invitees(store, survey.id, "floor", 0, batch, now)
            batch = []
    if batch:
        ledger.add_invitees(store, survey.id, "floor", 0, batch, now)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "contacts": len(contacts)}


def child_naive(project: Path, limit: int) -> dict:
    """One Prefect task run per contact: render, ledger row, one send (the configured channel)."""
    from prefect import flow, task
    from prefect.cache_policies import NONE

    from cxops.audience import Contact
    from cxops.channels import make_channel
    from cxops.channels.base import BatchContext
    from cxops.messages.render import InvitationRenderer, SendView
    from cxops.settings import get_settings
    from cxops.spec import load_survey
    from cxops.store import ledger
    from cxops.store.db import open_store
    from cxops.wave.plan import json_safe

    settings = get_settings(project_dir=project)
    survey = load_survey(project / "surveys" / "bench-nps.yaml", project_dir=project)
    store = open_store(f"sqlite:///{project / 'naive.db'}")
    renderer = InvitationRenderer(survey, settings, wave_id="naive")
    channel = make_channel(settings)
    expires = datetime(2026, 12, 7, tzinfo=UTC)
    contacts = first_contacts(survey, project, limit)

    @task(cache_policy=NONE)
    def invite(index: int, contact: Contact) -> None:
        fields = json_safe(contact.fields)
        ledger.add_invitees(
            store,
            survey.id,
            "naive",
            0,
            [
                {
                    "contact_key": contact.key,
                    "email": contact.email,
                    "segment": "all",
                    "locale": contact.locale or "en",
                    "contact": fields,
                }
            ],
            settings.clock(),
        )
        view = SendView(
            send_id=f"naive{index:08d}",
            email=contact.email,
            contact_key=contact.key,
            segment="all",
            locale=contact.locale,
            contact=fields,
            step=0,
            expires_at=expires,
        )
        channel.send(
            renderer.render_groups([view]),
            BatchContext(survey_id=survey.id, wave_id="naive", batch=index),
        )

    @flow
    def naive_wave() -> None:
        for index, contact in enumerate(contacts):
            invite(index, contact)

    @flow
    def warm_up() -> int:
        return 1

    warm_up()
    started = time.perf_counter()
    naive_wave()
    return {"seconds": time.perf_counter() - started, "contacts": len(contacts)}


def child_trivial() -> dict:
    from prefect import flow

    @flow
    def trivial() -> int:
        return 1

    trivial()
    return {}


# -- the parent: orchestrates and prints ----------------------------------------------------


def wall(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 contacts")
    parser.add_argument("--naive", type=int, default=2_000)
    parser.add_argument("--floor", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of the start-up check")
    parser.add_argument("--child")
    parser.add_argument("--project", type=Path)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    if args.child:
        result = {
            "wave": lambda: child_wave(args.project),
            "floor": lambda: child_floor(args.project, args.limit),
            "naive": lambda: child_naive(args.project, args.limit),
            "trivial": child_trivial,
        }[args.child]()
        print(json.dumps(result))
        return

    contacts = 1_000_000 if args.million else args.contacts
    from cxops.testing.sendgrid_server import running_sendgrid_server

    with tempfile.TemporaryDirectory(prefix="cxops-bench-") as tmp:
        base = Path(tmp)
        print(f"generating {contacts:,} synthetic contacts …", flush=True)
        outbox_project = make_project(base / "outbox", contacts)
        sendgrid_project = base / "sendgrid"
        sendgrid_project.mkdir()
        for name in ("surveys", "data"):
            os.symlink(outbox_project / name, sendgrid_project / name)
        prefect_home = base / "prefect"

        floor = run_child(
            "floor",
            outbox_project,
            child_env(outbox_project, PREFECT_HOME=str(prefect_home)),
            "--limit",
            str(min(args.floor, contacts)),
        )
        floor_rate = floor["contacts"] / floor["seconds"]
        print(
            f"floor (render + ledger insert per recipient): {floor_rate:,.0f} contacts/s",
            flush=True,
        )

        outbox = run_child(
            "wave", outbox_project, child_env(outbox_project, PREFECT_HOME=str(prefect_home))
        )
        outbox_rate = outbox["sent"] / outbox["seconds"]
        print(f"wave into the outbox: {outbox_rate:,.0f} contacts/s", flush=True)

        with running_sendgrid_server(api_key=API_KEY) as server:
            env = sendgrid_env(sendgrid_project, prefect_home, server.url)
            sendgrid = run_child("wave", sendgrid_project, env)
            requests = len(server.accepted)
            recipients = sum(len(request.body["personalizations"]) for request in server.accepted)
        sendgrid_rate = sendgrid["sent"] / sendgrid["seconds"]
        print(f"wave into SendGrid: {sendgrid_rate:,.0f} contacts/s", flush=True)

        naive_project = make_project(base / "naive", args.naive)
        with running_sendgrid_server(api_key=API_KEY) as server:
            naive_env = sendgrid_env(naive_project, prefect_home, server.url)
            naive = run_child("naive", naive_project, naive_env, "--limit", str(args.naive))
        naive_rate = naive["contacts"] / naive["seconds"]
        print(
            f"naive (a Prefect task and a Mail Send request per contact): {naive_rate:,.0f} contacts/s",
            flush=True,
        )

        small = make_project(base / "small", 10)
        small_env = child_env(small, PREFECT_HOME=str(base / "prefect-small"))
        run_times, trivial_times = [], []
        for attempt in range(args.repeat):
            for name in ("cxops.db", "cxops.db-wal", "cxops.db-shm"):
                (small / name).unlink(missing_ok=True)
            run_times.append(
                wall(
                    [sys.executable, "-m", "cxops", "run", "bench-nps", "--wave", f"w{attempt}"],
                    small_env,
                    small,
                )
            )
            trivial_times.append(
                wall([sys.executable, __file__, "--child", "trivial"], small_env, small)
            )
        small_run, trivial = statistics.median(run_times), statistics.median(trivial_times)

    rows = [
        ("contacts", f"{contacts:,}"),
        ("floor: render + ledger insert per recipient", f"{floor_rate:,.0f}/s"),
        (
            "wave into the outbox",
            f"{outbox_rate:,.0f}/s ({outbox_rate / floor_rate:.2f} × floor, target ≥ 0.5)",
        ),
        (
            "wave into SendGrid",
            f"{sendgrid_rate:,.0f}/s ({sendgrid_rate / floor_rate:.2f} × floor, target ≥ 1.0)",
        ),
        ("naive: a Prefect task + a request per contact", f"{naive_rate:,.0f}/s"),
        (
            "SendGrid wave vs naive, per contact",
            f"{sendgrid_rate / naive_rate:,.0f} × (target ≥ 50)",
        ),
        (
            "Mail Send requests per 1,000 recipients",
            f"{1000 * requests / max(recipients, 1):.2f} (target ≤ 2)",
        ),
        (
            "peak RSS, outbox wave (flow / planner)",
            f"{outbox['peak_rss_mb']:,.0f} / {outbox['child_peak_rss_mb']:,.0f} MiB",
        ),
        (
            "peak RSS, SendGrid wave (flow / planner)",
            f"{sendgrid['peak_rss_mb']:,.0f} / {sendgrid['child_peak_rss_mb']:,.0f} MiB"
            " (target < 1,024 at 1M, each)",
        ),
        ("10-contact `cxops run` (median)", f"{small_run:.2f} s"),
        ("trivial Prefect flow run (median)", f"{trivial:.2f} s"),
        ("small run vs trivial flow", f"{small_run / trivial:.2f} × (target ≤ 1.5)"),
        (
            "sent / failed / in doubt (SendGrid)",
            f"{sendgrid['sent']} / {sendgrid['failed']} / {sendgrid['in_doubt']}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
