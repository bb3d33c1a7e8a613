"""`pytest --cpu-durations=N`: the tests and test files that used the most CPU.

Wall-clock durations (`--durations`) grow with the machine's load; CPU seconds do not,
so on a shared machine they say what a test costs. A test's CPU time is its process's
user + system time over setup, call and teardown, plus that of the child processes it
waited for (the `cxops` commands and servers it ran, each with the children *they*
waited for). Each test's figure travels in its report's `user_properties` as
`cpu_seconds` (so it crosses from xdist workers, and `--junitxml` keeps it); the
controller lists the N most expensive tests and the files by their total, the figure
`--dist loadfile` balances workers with.
"""

from __future__ import annotations

import resource
from collections import defaultdict
from collections.abc import Generator
from typing import Any

import pytest

PROPERTY = "cpu_seconds"
_START = pytest.StashKey[float]()


def cpu_seconds() -> float:
    """User + system seconds of this process and of the children it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("terminal reporting").addoption(
        "--cpu-durations",
        type=int,
        default=None,
        metavar="N",
        help="list the N tests (0: all) and test files that used the most CPU, "
        "children included (robust to a busy machine, unlike --durations)",
    )


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    item.stash[_START] = cpu_seconds()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    if call.when == "teardown" and _START in item.stash:
        report: pytest.TestReport = outcome.get_result()
        report.user_properties.append((PROPERTY, round(cpu_seconds() - item.stash[_START], 3)))


class _Collected:
    def __init__(self) -> None:
        self.tests: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == PROPERTY and report.when == "teardown":
                self.tests[report.nodeid] = float(str(value))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        count = terminalreporter.config.getoption("cpu_durations")
        ranked = sorted(self.tests.items(), key=lambda item: -item[1])
        files: dict[str, float] = defaultdict(float)
        for nodeid, seconds in ranked:
            files[nodeid.split("::", 1)[0]] += seconds
        write = terminalreporter.write_line
        terminalreporter.write_sep(
            "=", f"CPU seconds (children included): {sum(files.values()):.0f}"
        )
        for nodeid, seconds in ranked[: count or None]:
            write(f"{seconds:9.2f}  {nodeid}")
        terminalreporter.write_sep("-", "test files by CPU seconds")
        for path, seconds in sorted(files.items(), key=lambda item: -item[1])[: count or None]:
            write(f"{seconds:9.2f}  {path}")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("cpu_durations") is not None:
        config.pluginmanager.register(_Collected(), "cxops-cpu-durations")
