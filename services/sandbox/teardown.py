"""Ending sandboxes: kill a process and everything below it, then wait until all of it is gone.

A bubblewrap sandbox is one process tree: the outer ``bwrap``, its child (the sandbox's PID 1) and everything
started inside (orphans, ``setsid`` children included, are re-parented to that PID 1, never outside). When the
sandbox's PID 1 dies the kernel kills every process in its PID namespace. Linux only (reads ``/proc``).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
POLL_S = 0.01


def end_process_trees(roots: Iterable[int], *, marker: str | None = None, wait_s: float = 5.0) -> int:
    """SIGKILL each live root (whose command line holds ``marker``, if given: pids get reused) and all its
    descendants; return how many were signalled, once they are all dead or ``wait_s`` has passed."""
    table = _process_table()
    targets: list[int] = []
    for root in roots:
        if root in table and root not in targets and (marker is None or marker in _cmdline(root)):
            targets += [root, *_descendants(root, table)]
    killed = []
    # the deepest first: killing the outer bwrap first lets the kernel end the rest of its PID namespace under our
    # feet, and a process could start a child between the walk and the signal of its parent
    for pid in reversed(list(dict.fromkeys(targets))):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + wait_s
    while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return len(killed)


def _process_table() -> dict[int, int]:
    """``{pid: parent pid}`` of every live process."""
    table = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] not in "ZX":
                table[int(entry.name)] = int(fields[1])
    return table


def _descendants(root: int, table: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in table.items():
        children.setdefault(parent, []).append(pid)
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] not in "ZX"


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name: state, parent, group, session, ..."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
