"""How the assurance modules run a command: an ``Exec`` callable, and the default plain-subprocess one.

``Exec(argv, cwd, env, timeout_s) -> (exit code, output)``; the exit code is None when the command did not finish
within ``timeout_s``. A sandbox provides its own ``Exec`` that wraps ``argv``; callers do not change.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

Exec = Callable[[Sequence[str], Path, Mapping[str, str], float], Awaitable[tuple[int | None, str]]]


async def subprocess_exec(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout_s: float
) -> tuple[int | None, str]:
    """Run ``argv`` in its own process group (stdout and stderr merged); the group dies on timeout or cancel."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    except TimeoutError:
        _kill_group(process.pid)
        stdout, _ = await process.communicate()
        return None, stdout.decode(errors="replace")
    except asyncio.CancelledError:
        _kill_group(process.pid)
        await process.wait()
        raise
    return process.returncode, stdout.decode(errors="replace")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
