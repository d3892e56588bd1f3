"""A ``handoff up`` record for tests of how the client finds Handoff: the file as ``up`` writes it, and a pid that
no longer runs (a stale record)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgspec

from handoff.stack.state import StackState, state_path


def record(data_dir: Path, *, pid: int, url: str) -> Path:
    """The file a 'handoff up' writes when it is up, as it writes it (``data_dir``: HANDOFF_DATA_DIR)."""
    path = state_path(data_dir / "nats")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.encode(StackState(url=url, pid=pid, started_at="2026-01-02T03:04:05+00:00",
                                                    generators=1)))  # fmt: skip
    return path


def a_finished_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid
