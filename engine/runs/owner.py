"""Which process owns a running run, and whether that process still exists.

A run is `running` while the process that started it works on it; if that process is killed the row would say
`running` forever. The owner is recorded as host, pid and the process's start time (so a recycled pid is not
taken for the original process); a run whose owner on this host is gone is interrupted. Runs owned by another
host are left alone: this process cannot see them.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path


def current_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def owner_is_gone(owner: str | None) -> bool:
    """True when the owner was a process on this host that no longer runs (or a pid now held by another one)."""
    if not owner:
        return True  # recorded before owners were: no process of this version can still hold it
    host, pid, started = owner.rsplit(":", 2)
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # someone else's process holds the pid: compare start times below
    return _start_time(int(pid)) != started


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux); empty where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]
