"""`make demo`: the main job end to end on the embedded defaults.

Builds a fresh project in demo-out/ (the example surveys, sample customers made
for today), then: validate, plan, preview, run a wave of the NPS and CSAT surveys
into the outbox, start the real collector, answer some invitations over HTTP the
way a customer's browser does, export the answers, turn them into follow-up
tasks, list each CSM's tasks and write their digests into the outbox; recruit an
interview study to its goal; explain with `cxops why` what holds a person back.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo-out"
SURVEYS = ("nps-quarterly", "csat-support")
STUDY = "interviews-power-users"


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def cxops(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    print(f"$ cxops {' '.join(args)}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "cxops", *args], cwd=DEMO, env=env, text=True, capture_output=True
    )
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stdout.write(result.stderr[-4000:])
        if check:
            raise SystemExit(f"demo failed at: cxops {' '.join(args)}")
    return result


def cxops_quiet(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cxops", *args], cwd=DEMO, env=env, text=True, capture_output=True
    )
    if result.returncode != 0:
        raise SystemExit(f"demo failed at: cxops {' '.join(args)}\n{result.stderr[-2000:]}")
    return result.stdout


def unsubscribe_one(outbox: Path) -> str:
    """Unsubscribe the last invited person the way a mail client's one-click button does."""
    paths = sorted((outbox / "nps-quarterly").rglob("*.mbox"))
    parse = BytesParser(policy=policy.default).parse
    message = list(mailbox.mbox(paths[-1], factory=parse))[-1]
    url = message["List-Unsubscribe"].strip("<>")
    reply = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    reply.raise_for_status()
    return str(message["To"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answer_links(outbox: Path, limit: int) -> list[str]:
    """The answer page links of the first invitations in the outbox, as a mail client sees them."""
    links: list[str] = []
    for path in sorted(outbox.rglob("*.mbox")):
        for message in mailbox.mbox(
            path, factory=lambda f: BytesParser(policy=policy.default).parse(f)
        ):
            text = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"(https?://\S+/a/[A-Za-z0-9_-]+)", text)
            if found:
                links.append(found.group(1))
            if len(links) >= limit:
                return links
    return links


def wait_healthy(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the collector exited during start-up")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the collector did not become healthy")


def main() -> None:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    (DEMO / "surveys").mkdir(parents=True)
    for survey in (REPO / "surveys").glob("*.yaml"):
        shutil.copy(survey, DEMO / "surveys" / survey.name)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXOPS_")}
    env.update({"CXOPS_PROJECT_DIR": str(DEMO), "CXOPS_PUBLIC_URL": base, "COLUMNS": "120"})
    env.setdefault("PREFECT_HOME", str(DEMO / ".prefect"))

    step("sample customers, made for today")
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "make_sample_data.py"),
            "--out",
            str(DEMO / "data"),
            "--now",
            now,
        ],
        check=True,
    )

    step("validate the surveys")
    cxops("validate", env=env)

    step("plan: who would be invited, and why not the others")
    cxops("plan", "nps-quarterly", env=env)

    step("preview: the real invitation for real contacts")
    cxops("preview", "nps-quarterly", "--count", "2", "--out", str(DEMO / "preview"), env=env)

    step("run a wave of each survey into the outbox (Prefect flow runs)")
    for survey in SURVEYS:
        cxops("run", survey, env=env)
    step("interview recruitment: the first batch of the study (goal 8, batch 20)")
    cxops("run", STUDY, "--wave", "batch-1", env=env)

    step("run the NPS wave again: it resumes, nobody is invited twice")
    again = cxops("run", "nps-quarterly", "--json", env=env)
    print(f"second run: sent {json.loads(again.stdout)['sent']} in total, none of them twice")

    step("the collector: customers answer from the email")
    server = subprocess.Popen(
        [sys.executable, "-m", "cxops", "serve", "--port", str(port)],
        cwd=DEMO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(base, server)
        answered = answer_some(DEMO / "outbox")
        print(f"{answered} answers submitted over HTTP to {base}")
        leaver = unsubscribe_one(DEMO / "outbox")
        print(f"{leaver} unsubscribed with one click (RFC 8058 POST)")
        accepted = accept_interviews(DEMO / "outbox" / STUDY, 8)
        print(f"{accepted} people accepted an interview (consent ticked) and got the booking link")
    finally:
        server.terminate()
        server.wait(timeout=30)

    step("answers out: stored before the thank-you page, exported safe for spreadsheets")
    export = DEMO / "responses-nps-quarterly.csv"
    cxops("export", "responses", "nps-quarterly", "--format", "csv", "--out", str(export), env=env)
    print("".join(export.read_text(encoding="utf-8").splitlines(keepends=True)[:6]), end="")

    step("the next plan excludes the person who unsubscribed")
    plan = json.loads(cxops_quiet("plan", "nps-quarterly", "--json", env=env))
    print(f"excluded because: {plan['excluded']}")

    step("three days later: one reminder round, only to those who have not answered")
    later = (datetime.fromisoformat(now) + timedelta(days=3, hours=1)).isoformat()
    cxops("remind", "nps-quarterly", "--dry-run", env={**env, "CXOPS_NOW": later})
    round_ = json.loads(
        cxops_quiet("remind", "nps-quarterly", "--json", env={**env, "CXOPS_NOW": later})
    )
    reminded = reminder_recipients(DEMO / "outbox" / "nps-quarterly")
    print(
        f"sent {round_['sent']} reminders ({len(reminded)} in outbox/nps-quarterly/*/"
        f"reminder1-*.mbox); not reminded: {round_['skipped']}"
    )
    if leaver in reminded or round_["skipped"].get("answered") != answered:
        raise SystemExit("demo: a reminder went to someone who answered or unsubscribed")

    step("the study reached its goal: the next run invites nobody and says so")
    cxops("interviews", "status", STUDY, env=env)
    cxops("run", STUDY, "--wave", "batch-2", env=env)
    people = json.loads(cxops_quiet("interviews", "list", STUDY, "--json", env=env))
    first = people[0]["ref"]
    cxops("interviews", "mark", first, "completed", env=env)
    cxops("interviews", "pay", first, env=env)

    step("contact policy: one person's history and what holds them back, survey by survey")
    cxops("why", people[0]["email"], env=env)

    step("closing the loop: answers that need a human become tasks")
    cxops("followups", env=env)
    cxops("tasks", env=env)
    cxops("digest", env=env)
    step("a CSM's own task list: the signed link in their digest, served by the collector")
    list_page = csm_list_page(env, port)
    step("a new task as a Slack message (text + blocks), checked like Slack checks it")
    slack_notification(env)
    step("a CSM closes the loop")
    cxops(
        "tasks",
        "close",
        "1",
        "--outcome",
        "contacted",
        "--note",
        "Called; offered a training session",
        env=env,
    )
    cxops("tasks", "--summary", env=env)

    step("where everything is")
    print(f"project:     {DEMO}")
    print(f"store:       {DEMO / 'cxops.db'}")
    print(f"outbox:      {DEMO / 'outbox'}  (mbox files: invitations and digests)")
    print(f"previews:    {DEMO / 'preview'}  (open the .html files in a browser)")
    print(f"answers:     {export}")
    print(f"digests:     {DEMO / 'outbox' / '_digests'}")
    print(f"CSM list:    {list_page}  (what the digest's link shows)")

    step("the report: NPS with its 95% interval, segments, trend, themes, closing the loop")
    report = DEMO / "report-nps-quarterly.html"
    cxops("report", "nps-quarterly", "--out", str(report), env=env)
    print(f"report:      {report}  (one self-contained HTML file; `--json` for the numbers)")


def reminder_recipients(folder: Path) -> list[str]:
    return [m["To"] for p in sorted(folder.rglob("reminder1-*.mbox")) for m in mailbox.mbox(p)]


def accept_interviews(outbox: Path, count: int) -> int:
    """Accept interview invitations as people would: the email's "Yes" link, consent, submit."""
    accepted = 0
    with httpx.Client(timeout=10) as client:
        for link in answer_links(outbox, count):
            client.get(f"{link}?accepted=yes").raise_for_status()
            reply = client.post(link, data={"accepted": "yes", "consent": "yes"})
            reply.raise_for_status()
            accepted += "utm_content=" in reply.text
    return accepted


def csm_list_page(env: dict[str, str], port: int) -> Path:
    """Follow the 'All your tasks' link of the first digest; save the page it serves."""
    text = ""
    for path in sorted((DEMO / "outbox" / "_digests").rglob("*.mbox")):
        for raw in mailbox.mbox(str(path)):
            message = BytesParser(policy=policy.default).parsebytes(raw.as_bytes())
            text = message.get_body(preferencelist=("plain",)).get_content()
            break
        break
    link = text.split("All your tasks, with filters: ")[1].split()[0]
    server = subprocess.Popen(
        [sys.executable, "-m", "cxops", "serve", "--port", str(port)],
        cwd=DEMO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        page = httpx.get(link, timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = DEMO / "csm-tasks.html"
    out.write_text(page.text, encoding="utf-8")
    count = page.text.count('<article class="task"')
    print(f"GET {link.split('/m/')[0]}/m/… -> {page.status_code}, {count} tasks, overdue first")
    return out


def slack_notification(env: dict[str, str]) -> None:
    """Task 1 as the message a rule's `notify: {format: slack}` posts."""
    from cxops.followup.chat import slack_message
    from cxops.followup.links import task_link
    from cxops.followup.webhooks import task_card
    from cxops.settings import get_settings
    from cxops.spec.lookup import project_surveys
    from cxops.store import tasks as q
    from cxops.store.db import open_store
    from cxops.testing.chat_webhooks import slack_problem

    settings = get_settings(project_dir=DEMO, public_url=env["CXOPS_PUBLIC_URL"])
    store = open_store(settings.store_url)
    try:
        with store.session() as session:
            view = q.get_task(session, 1)
    finally:
        store.dispose()
    surveys = project_surveys(settings.surveys_path, settings.project_dir).surveys
    link = task_link(settings, view.key, settings.clock())
    message = slack_message(task_card(view, surveys.get(view.task.survey_id), link))
    out = DEMO / "slack-message.json"
    out.write_text(json.dumps(message, indent=2, ensure_ascii=False), encoding="utf-8")
    print(message["text"])
    verdict = slack_problem(message)
    print(f"Slack's Block Kit models: {'accepted' if verdict is None else verdict} -> {out}")


def answer_some(outbox: Path) -> int:
    """Answer invitations as customers would: open the one-click link, submit the form."""
    scores = [0, 3, 6, 7, 8, 9, 10, 10, 2, 9]
    comments = [
        "Too expensive for what we use",
        "The setup was confusing",
        "Support took days to answer",
        "",
        "Solid product",
        "Love the reports",
        "Best tool we have",
        "",
        "Outage last week hurt us",
        "",
    ]
    answered = 0
    with httpx.Client(timeout=10, headers={"Accept": "application/json"}) as client:
        for link, score, comment in zip(
            answer_links(outbox / "nps-quarterly", len(scores)), scores, comments, strict=False
        ):
            page = client.get(f"{link}?score={score}")
            page.raise_for_status()
            reply = client.post(link, data={"score": str(score), "reason": comment})
            reply.raise_for_status()
            answered += 1
    return answered


if __name__ == "__main__":
    main()
