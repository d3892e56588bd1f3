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
    """Run ``argv`` in its own process group (stdout and stderr merged); the group dies on timeout or cancel.

    The output read before a timeout is kept. A process that escaped the group (its own session) and still holds
    the pipe is not waited for longer than ``DRAIN_S`` after the kill.
    """
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    chunks: list[bytes] = []
    finished = asyncio.gather(_read_all(process, chunks), process.wait())
    try:
        await asyncio.wait_for(asyncio.shield(finished), timeout=timeout_s)
    except TimeoutError:
        await _end(process, finished)
        return None, b"".join(chunks).decode(errors="replace")
    except asyncio.CancelledError:
        await _end(process, finished)
        raise
    return process.returncode, b"".join(chunks).decode(errors="replace")


DRAIN_S = 5.0


async def _read_all(process: asyncio.subprocess.Process, chunks: list[bytes]) -> None:
    assert process.stdout is not None
    while data := await process.stdout.read(65536):
        chunks.append(data)


async def _end(process: asyncio.subprocess.Process, finished: asyncio.Future[tuple[None, int]]) -> None:
    _kill_group(process.pid)
    try:
        await asyncio.wait_for(asyncio.shield(finished), timeout=DRAIN_S)
    except TimeoutError:
        finished.cancel()
        await process.wait()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
