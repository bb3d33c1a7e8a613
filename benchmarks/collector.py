"""Collector throughput: many concurrent clients submitting complete answers over loopback.

Starts the real collector (`cxops serve`, uvicorn, its own process) on SQLite and then
on PostgreSQL, drives it with CLIENTS concurrent httpx clients posting complete
answers (one invitation each), and prints answers/s, p50/p99 latency and answers
lost — counted in the store: every 200 must be a stored complete response. The
ceiling is a bare FastAPI endpoint that only returns 200, served the same way on the
same machine; target: collector >= 0.5 x ceiling. Figures go to benchmarks/README.md
under "## Collector".

    .venv/bin/python benchmarks/collector.py [--clients 200] [--answers 4000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
README = Path(__file__).resolve().parent / "README.md"
POSTGRES_ADMIN_URL = os.environ.get(
    "CXOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SECRET = "benchmark-secret-key-not-for-production"
SURVEY = "nps-quarterly"
BARE_APP = """
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

@app.post("/a/{token}")
async def answer(token: str) -> PlainTextResponse:
    return PlainTextResponse("ok")

@app.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")
"""


@dataclass
class Run:
    name: str
    sent: int
    ok: int
    failed: int
    seconds: float
    latencies: list[float]
    lost: int | None = None

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server at {url} not ready after {timeout}s")


def start(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def make_project(root: Path) -> None:
    shutil.copytree(REPO / "surveys", root / "surveys")
    if (REPO / "data").exists():
        shutil.copytree(REPO / "data", root / "data")


def plant_sends(store_url: str, count: int, prefix: str) -> list[str]:
    """`count` sent invitations (sent an hour ago); their answer-link tokens."""
    from cxops.messages.tokens import make_token
    from cxops.store.db import open_store
    from cxops.store.models import Send

    store = open_store(store_url)
    now = datetime.now(UTC)
    tokens = []
    with store.session() as session:
        rows = []
        for index in range(count):
            send_id = secrets.token_hex(12)
            rows.append(
                Send(
                    send_id=send_id,
                    survey_id=SURVEY,
                    wave_id="bench",
                    step=0,
                    contact_key=f"{prefix}{index}",
                    email=f"{prefix}{index}@example.com",
                    segment="smb",
                    locale="en",
                    contact={"name": f"Contact {index}"},
                    status="sent",
                    created_at=now - timedelta(hours=1),
                    sent_at=now - timedelta(hours=1),
                    channel="outbox",
                )
            )
            tokens.append(make_token(SECRET.encode(), "answer", send_id, now + timedelta(days=1)))
        session.add_all(rows)
    store.dispose()
    return tokens


def stored_complete(store_url: str) -> int:
    from sqlalchemy import func, select

    from cxops.store.db import open_store
    from cxops.store.models import Response

    store = open_store(store_url, upgrade=False)
    try:
        with store.session() as session:
            return session.scalar(
                select(func.count()).select_from(Response).where(Response.status == "complete")
            )
    finally:
        store.dispose()


async def drive(name: str, base: str, tokens: list[str], clients: int, seconds: float) -> Run:
    """`clients` concurrent clients, one POST of a complete answer per token, until done or time."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        queue.put_nowait(token)
    latencies: list[float] = []
    failed = 0
    ok = 0
    deadline = time.perf_counter() + seconds
    statuses: dict[int, int] = {}

    async def worker(number: int) -> None:
        nonlocal ok, failed
        # Each client is its own browser: one keep-alive connection of its own.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            while time.perf_counter() < deadline:
                try:
                    token = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {"score": str(number % 11), "reason": f"answer from client {number}"}
                started = time.perf_counter()
                try:
                    reply = await client.post(f"/a/{token}", data=body)
                except httpx.HTTPError:
                    failed += 1
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
                if reply.status_code == 200:
                    ok += 1
                else:
                    failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    if set(statuses) - {200}:
        print(f"{name}: replies by status {statuses}")
    return Run(name, len(latencies), ok, failed, elapsed, latencies)


def bench_ceiling(args: argparse.Namespace, workdir: Path) -> Run:
    app_file = workdir / "bare_app.py"
    app_file.write_text(BARE_APP)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    process = start(argv, {**os.environ, "PYTHONPATH": str(workdir)}, workdir)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", process)
        tokens = [secrets.token_urlsafe(40) for _ in range(args.answers)]
        asyncio.run(drive("warm-up", f"http://127.0.0.1:{port}", tokens[:200], 20, 10))
        return asyncio.run(
            drive("bare FastAPI", f"http://127.0.0.1:{port}", tokens, args.clients, args.seconds)
        )
    finally:
        stop(process)


def bench_collector(name: str, store_url: str, args: argparse.Namespace, workdir: Path) -> Run:
    project = workdir / f"project-{name}"
    make_project(project)
    warm = plant_sends(store_url, 200, "warm")
    tokens = plant_sends(store_url, args.answers, "c")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CXOPS_")},
        "CXOPS_DATABASE_URL": store_url,
        "CXOPS_SECRET_KEY": SECRET,
        "CXOPS_PROJECT_DIR": str(project),
    }
    argv = [sys.executable, "-m", "cxops", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = start(argv, env, project)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", process)
        asyncio.run(drive("warm-up", f"http://127.0.0.1:{port}", warm, 20, 10))
        before = stored_complete(store_url)
        run = asyncio.run(
            drive(
                f"collector, {name}", f"http://127.0.0.1:{port}", tokens, args.clients, args.seconds
            )
        )
    finally:
        stop(process)
    run.lost = run.ok - (stored_complete(store_url) - before)
    return run


def postgres_database() -> tuple[str, str] | None:
    try:
        import psycopg

        admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        name = f"cxops_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # reported: the PostgreSQL run is skipped
        print(f"PostgreSQL run skipped: {exc}")
        return None
    base = POSTGRES_ADMIN_URL.rpartition("/")[0]
    return f"{base}/{name}", name


def drop_postgres(name: str) -> None:
    import psycopg

    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(runs: list[Run], ceiling: Run, args: argparse.Namespace) -> str:
    lines = [
        f"{args.clients} concurrent clients, up to {args.answers} complete answers per run "
        f"(time limit {args.seconds:.0f}s), loopback, one uvicorn process each; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs.",
        "",
        "| run | answers/s | p50 ms | p99 ms | non-200 | answers lost | ratio to ceiling |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in [ceiling, *runs]:
        ratio = run.rate / ceiling.rate if ceiling.rate else float("nan")
        lost = "–" if run.lost is None else str(run.lost)
        lines.append(
            f"| {run.name} | {run.rate:,.0f} | {run.percentile(0.5):.1f} | "
            f"{run.percentile(0.99):.1f} | {run.failed} | {lost} | {ratio:.2f} |"
        )
    return "\n".join(lines)


def write_readme(table: str) -> None:
    section = (
        "## Collector\n\n"
        "`benchmarks/collector.py`: the real collector (`cxops serve`) against a bare FastAPI\n"
        "endpoint that only returns 200 (the ceiling), both on uvicorn in their own process.\n"
        "Answers lost = 200 replies without a stored complete response (must be 0).\n"
        "Client and servers share the machine's CPUs, so the ceiling is partly the client's.\n"
        "Every p99, the ceiling's included, is dominated by 200 connections opening at once.\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}:\n\n{table}\n"
    )
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Collector\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _match: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    README.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--answers", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--no-readme", action="store_true", help="Print only.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cxops-bench-") as tmp:
        workdir = Path(tmp)
        ceiling = bench_ceiling(args, workdir)
        runs = [bench_collector("SQLite", f"sqlite:///{workdir / 'bench.db'}", args, workdir)]
        postgres = postgres_database()
        if postgres is not None:
            try:
                runs.append(bench_collector("PostgreSQL", postgres[0], args, workdir))
            finally:
                drop_postgres(postgres[1])
    table = report(runs, ceiling, args)
    print(table)
    bad = [run.name for run in runs if run.lost or run.rate < 0.5 * ceiling.rate]
    print("target (>= 0.5 x ceiling, 0 lost):", "met" if not bad else f"missed by {', '.join(bad)}")
    if not args.no_readme:
        write_readme(table)
        print(f"figures written to {README}")


if __name__ == "__main__":
    main()
