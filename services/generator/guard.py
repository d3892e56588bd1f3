"""Running a runner under a deadline and an interrupt: whichever comes first stops it.

The runner runs in its own asyncio task. A cancel request, the deadline or a shutdown cancels that task (the
runner interrupts its agent, cleans up and re-raises ``CancelledError``); the guard waits up to
``interrupt_grace_s`` for it to stop and then reports the interruption, never a result invented for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

from handoff.generator.errors import Failed, Interrupted, Interruption, Outcome, Succeeded, as_failure
from handoff.runners.base import TaskFailure, TransientFailure
from handoff.schemas.events import ErrorCode, TaskResult

log = structlog.get_logger(__name__)

# Runners that ignored an interruption and are still going; kept so they are not garbage-collected mid-run.
_abandoned: set[asyncio.Task[TaskResult]] = set()


def _forget(task: asyncio.Task[TaskResult]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("an abandoned runner ended with an error", error=repr(task.exception()))


def _outcome_of(task: asyncio.Task[TaskResult]) -> Outcome:
    if task.cancelled():
        return Failed(TransientFailure(ErrorCode.INTERNAL, "the runner stopped with CancelledError on its own"))
    exc = task.exception()
    if exc is None:
        return Succeeded(task.result())
    if not isinstance(exc, TaskFailure):
        log.error("runner raised an unexpected error", error=repr(exc), exc_info=exc)
    return Failed(as_failure(exc))


async def run_guarded(
    work: Coroutine[Any, Any, TaskResult],
    *,
    timeout_s: float | None,
    interrupt: asyncio.Future[Interrupted],
    interrupt_grace_s: float,
    timeout_reason: str = "the deadline passed",
) -> Outcome:
    """Run ``work``; stop it on ``interrupt`` or after ``timeout_s`` (the time left until the deadline)."""
    task = asyncio.create_task(work, name="generator-runner")
    try:
        waiting: set[asyncio.Future[Any]] = {task, interrupt}
        done, _ = await asyncio.wait(waiting, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return _outcome_of(task)
    why = interrupt.result() if interrupt.done() else Interrupted(Interruption.TIMED_OUT, timeout_reason)
    task.cancel(msg=str(why.why))
    await asyncio.wait({task}, timeout=interrupt_grace_s)
    if not task.done():
        log.error("runner did not stop after being interrupted; abandoning it", grace_s=interrupt_grace_s)
        _abandoned.add(task)
        task.add_done_callback(_forget)
    elif not task.cancelled() and task.exception() is None:
        return Succeeded(task.result())  # it finished just as it was interrupted: the work is done
    log.info("task interrupted", why=why.why, reason=why.reason)
    return why
