"""Is the process that made a claim still alive? (`host:pid:uuid` claim ids, /proc.)"""

from __future__ import annotations

import os
import socket
import uuid


def new_claim_id() -> str:
    """`host:pid:uuid` — tells a dead run's claims from a live one's."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


def claim_process_gone(claim_id: str, host: str) -> bool:
    """True when `claim_id` was made on `host` (this machine) by a process now gone."""
    parts = claim_id.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    return not pid_alive(int(parts[1]))


def pid_alive(pid: int) -> bool:
    """True when process `pid` runs on this machine (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
