"""A small state file that tells other ``handoff`` commands where a running ``handoff up`` stack listens."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from handoff.common.clock import utcnow


class StackState(msgspec.Struct, kw_only=True, frozen=True):
    url: str
    pid: int
    started_at: str
    generators: int


def state_path(data_dir: Path) -> Path:
    return Path(data_dir) / "stack.json"


def write_state(data_dir: Path, *, url: str, generators: int) -> None:
    state = StackState(url=url, pid=os.getpid(), started_at=utcnow().isoformat(), generators=generators)
    path = state_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.encode(state))
    tmp.replace(path)


def clear_state(data_dir: Path) -> None:
    state_path(data_dir).unlink(missing_ok=True)


def recorded_stack(data_dir: Path) -> StackState | None:
    """What the state file says, whether or not its supervisor still runs (None: no readable file)."""
    try:
        return msgspec.json.decode(state_path(data_dir).read_bytes(), type=StackState)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def is_running(state: StackState) -> bool:
    """Whether the supervisor process that wrote ``state`` is alive (a ``handoff up`` killed hard leaves its file)."""
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def running_stack(data_dir: Path) -> StackState | None:
    """The state of a stack whose supervisor process is still alive, else None (stale files are ignored)."""
    state = recorded_stack(data_dir)
    return state if state is not None and is_running(state) else None
