"""Per-contact hot paths that issue 12 changed, against the code before it, interleaved.

    python benchmarks/hotpaths.py [--before PATH] [--contacts N] [--rounds R]

`--before` is a checkout of the previous code (e.g. `git archive 3d11b57 | tar -x -C
/tmp/base`); its `cxops` is imported under another name in a subprocess-free way by
loading the two modules side by side. Each round times both versions on the same
inputs, alternately, so a machine shared with other work slows both alike; the
figures are the median of the rounds, and the ratio is what counts.

Measured, per contact: `normalize_email` (email-validator with its fast path, against
the hand-written pattern), and a wave's expressions — the filter and three segments of
the benchmark survey — through `Evaluator.scope` (the bounded sandbox, against the
plain immutable sandbox).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FILTER = "contact.status == 'active' or contact.status != 'active'"
SEGMENTS = (
    "contact.plan == 'enterprise'",
    "contact.plan == 'growth'",
    "contact.plan in ['starter', 'team']",
)


def load_package(root: Path, alias: str) -> types.ModuleType:
    """Import the `cxops` package found under `root` as `alias` (its own module copies)."""
    saved = {name: module for name, module in sys.modules.items() if name.startswith("cxops")}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        spec = importlib.util.find_spec("cxops")
        assert spec is not None and spec.origin and str(root) in spec.origin, spec
        modules = {
            "contacts": importlib.import_module("cxops.audience.contacts"),
            "expr": importlib.import_module("cxops.expr"),
        }
    finally:
        sys.path.remove(str(root))
        loaded = {n: m for n, m in sys.modules.items() if n.startswith("cxops")}
        for name in loaded:
            del sys.modules[name]
        sys.modules.update(saved)
    package = types.ModuleType(alias)
    package.__dict__.update(modules)
    return package


def contacts(count: int) -> list[dict[str, Any]]:
    plans = ("enterprise", "growth", "starter", "team")
    return [
        {
            "email": f"First.Last{i}@Company{i % 500}.example.com",
            "plan": plans[i % 4],
            "status": "active" if i % 7 else "churned",
            "seats": i % 50,
        }
        for i in range(count)
    ]


def time_normalize(module: types.ModuleType, rows: list[dict[str, Any]]) -> float:
    normalize: Callable[[Any], str | None] = module.contacts.normalize_email
    started = time.perf_counter()
    for row in rows:
        normalize(row["email"])
    return time.perf_counter() - started


def time_expressions(module: types.ModuleType, rows: list[dict[str, Any]]) -> float:
    evaluator = module.expr.Evaluator(datetime(2026, 12, 1, tzinfo=UTC))
    started = time.perf_counter()
    for row in rows:
        scope = evaluator.scope({"contact": row, "survey": None})
        if scope.test(FILTER):
            for segment in SEGMENTS:
                if scope.test(segment):
                    break
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    before = load_package(args.before, "before")
    after = load_package(REPO, "after")
    rows = contacts(args.contacts)
    results: dict[str, dict[str, list[float]]] = {
        "normalize_email": {"before": [], "after": []},
        "filter + segments": {"before": [], "after": []},
    }
    for _ in range(args.rounds):
        for name, version in (("before", before), ("after", after)):
            results["normalize_email"][name].append(time_normalize(version, rows))
            results["filter + segments"][name].append(time_expressions(version, rows))
    print(f"{args.contacts:,} contacts, median of {args.rounds} interleaved rounds")
    for what, timings in results.items():
        old = statistics.median(timings["before"])
        new = statistics.median(timings["after"])
        print(
            f"  {what:18} before {args.contacts / old:>10,.0f}/s   after "
            f"{args.contacts / new:>10,.0f}/s   after/before time {new / old:.2f}"
        )


if __name__ == "__main__":
    main()
