"""`cxops send-due` against a wave, per recipient, into the same local SendGrid server.

    python benchmarks/send_due.py                    # 100,000 contacts, two runs of each
    python benchmarks/send_due.py --contacts 20000 --repeat 1

The synthetic project of `benchmarks/wave.py` (an NPS survey in three locales, every
contact invited). Each measurement runs in its own process after a warm-up flow (so
Prefect's ephemeral API start-up is not counted), with its own store; the two alternate,
so that load from other work on the machine hits both alike:

- **wave**: a whole wave through the real flow (`run_wave`: read, select, plan into the
  ledger, claim, render, send), every row due at once — the wave's per-recipient rate;
- **send-due**: the same wave planned into the ledger (not timed), each row's
  `not_before` then set to a seeded moment of the 24 hours before now (as send windows
  over 24 time zones leave them), then one `send-due` flow run (`run_send_due`) sends
  them all — timed from its start to its summary.

Prints each run's rate and the ratio send-due / wave of the medians (target ≥ 0.8).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any


def _wave_benchmark() -> Any:
    """`benchmarks/wave.py` (its synthetic project), by path: `wave` is also a stdlib module."""
    path = Path(__file__).resolve().parent / "wave.py"
    spec = importlib.util.spec_from_file_location("wave_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _warm_up() -> None:
    from prefect import flow

    @flow
    def warm_up() -> int:
        return 1

    warm_up()


def child_wave(project: Path) -> dict[str, Any]:
    from cxops.settings import get_settings
    from cxops.spec import load_survey
    from cxops.wave.run import run_wave

    _warm_up()
    settings = get_settings(project_dir=project)
    started = time.perf_counter()
    survey = load_survey(project / "surveys" / "bench-nps.yaml", project_dir=project)
    summary = run_wave(survey, settings)
    return {"seconds": time.perf_counter() - started, "sent": summary.sent}


def child_due(project: Path) -> dict[str, Any]:
    from sqlalchemy import select, update

    from cxops.settings import get_settings
    from cxops.spec import load_survey
    from cxops.store.db import open_store
    from cxops.store.models import Send
    from cxops.wave.ids import WaveContext
    from cxops.wave.prepare import prepare_wave
    from cxops.wave.run import run_send_due

    settings = get_settings(project_dir=project)
    survey = load_survey(project / "surveys" / "bench-nps.yaml", project_dir=project)
    store = open_store(settings.store_url)
    now = settings.clock()
    draw = random.Random(22)
    try:
        prepare_wave(store, WaveContext.begin(survey, settings))
        with store.connect() as conn:
            ids = list(conn.scalars(select(Send.id)))
        # 24 hours of not_before, one seeded moment per row (all due by now).
        with store.session(write=True) as session:
            session.execute(
                update(Send),
                [
                    {
                        "id": row_id,
                        "not_before": now - timedelta(seconds=draw.randrange(1, 24 * 3600)),
                        "held": "send window",
                    }
                    for row_id in ids
                ],
            )
    finally:
        store.dispose()
    _warm_up()
    started = time.perf_counter()
    summary = run_send_due(settings)
    return {
        "seconds": time.perf_counter() - started,
        "sent": summary.sent_now,
        "due": summary.due,
        "groups": len(summary.steps),
    }


def run_child(mode: str, project: Path, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--project", str(project)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child")
    parser.add_argument("--project", type=Path)
    args = parser.parse_args()
    if args.child:
        child = {"wave": child_wave, "due": child_due}[args.child]
        print(json.dumps(child(args.project)))
        return

    bench = _wave_benchmark()
    from cxops.testing.sendgrid_server import running_sendgrid_server

    rates: dict[str, list[float]] = {"wave": [], "due": []}
    with tempfile.TemporaryDirectory(prefix="cxops-bench-due-") as tmp:
        base = Path(tmp)
        print(f"generating {args.contacts:,} synthetic contacts …", flush=True)
        source = bench.make_project(base / "source", args.contacts)
        with running_sendgrid_server(api_key=bench.API_KEY) as server:
            for attempt in range(args.repeat):
                for mode in ("wave", "due"):
                    project = base / f"{mode}-{attempt}"
                    project.mkdir()
                    for name in ("surveys", "data"):
                        os.symlink(source / name, project / name)
                    env = bench.sendgrid_env(project, base / "prefect", server.url)
                    result = run_child(mode, project, env)
                    if result["sent"] != args.contacts:
                        raise SystemExit(f"{mode}: sent {result['sent']} of {args.contacts}")
                    rate = result["sent"] / result["seconds"]
                    rates[mode].append(rate)
                    extra = f" ({result['groups']} step)" if mode == "due" else ""
                    print(f"{mode:>4} #{attempt + 1}: {rate:,.0f} recipients/s{extra}", flush=True)
    wave, due = statistics.median(rates["wave"]), statistics.median(rates["due"])
    print()
    print(f"wave (median)      {wave:,.0f} recipients/s")
    print(f"send-due (median)  {due:,.0f} recipients/s")
    print(f"send-due / wave    {due / wave:.2f} × (target ≥ 0.8)")
    print(f"measured {datetime.now().isoformat(timespec='minutes')}")


if __name__ == "__main__":
    main()
