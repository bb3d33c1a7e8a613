"""A PostgreSQL cluster of a test's own, to stop, crash and start again under load.

The shared server (`POSTGRES_ADMIN_URL`) cannot be restarted by a test; this one is made
with `initdb` in a temporary folder of its own, listens on a free loopback port (trust auth, no
Unix socket outside the folder) and is stopped by `pg_ctl`, also when the test fails.
Run as root, the server runs as the `postgres` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cxops.schedule.processes import free_port


def postgres_bin() -> Path | None:
    """The folder of `initdb` and `pg_ctl` (Debian keeps them out of PATH), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(versions[0]).parent if versions else None


def _as_server_user() -> Sequence[str]:
    """The prefix that runs a command as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return ()
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ()
    return (setpriv, "--reuid=postgres", "--regid=postgres", "--init-groups", "--")


def can_run_a_cluster() -> bool:
    return postgres_bin() is not None and (os.geteuid() != 0 or bool(_as_server_user()))


@dataclass
class Cluster:
    """A running private cluster; `url` names its database `cxops`."""

    folder: Path
    port: int
    bin: Path
    prefix: Sequence[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/cxops"

    def _ctl(self, *args: str, check: bool = True) -> None:
        data = str(self.folder / "data")
        _run([*self.prefix, str(self.bin / "pg_ctl"), "-D", data, *args], check=check)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = str(self.folder / "server.log")
        self._ctl("start", "-w", "-t", "60", "-l", log, "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """`fast` (a clean shutdown) or `immediate` (a crash: recovery on the next start)."""
        self._ctl("stop", "-w", "-t", "60", "-m", mode)


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """initdb in a new folder of the system's temporary folder (the server's user must
    reach it, which pytest's own folders do not allow), start, create database `cxops`;
    stopped and removed on the way out."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    prefix = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="cxops-pg-"))
    try:
        if prefix:
            shutil.chown(folder, "postgres", "postgres")
        _run(
            [*prefix, str(binaries / "initdb"), "-D", str(folder / "data"), "-U", "postgres",
             "--auth=trust", "--no-sync", "-E", "UTF8"]
        )  # fmt: skip
        cluster = Cluster(folder, free_port(), binaries, prefix)
        cluster.start()
        try:
            import psycopg

            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True
            ) as connection:
                connection.execute("CREATE DATABASE cxops")
            yield cluster
        finally:
            cluster._ctl("stop", "-w", "-t", "30", "-m", "immediate", check=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(argv: Sequence[str], check: bool = True) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
