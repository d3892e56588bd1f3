"""The interface between the generator (which feeds tasks and keeps the guarantees) and runners (which do them).

A runner gets a ``TaskContext`` and returns a ``TaskResult`` or raises a ``TaskFailure``. Deadlines and cancel
requests reach it as ``asyncio.CancelledError``: a runner must stop its work promptly (an agent conversation
is interrupted), clean up, and re-raise. Progress goes through ``ctx.progress``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from nats.js import JetStreamContext

from handoff.schemas.events import ErrorCode, TaskResult, TaskSubmitted

ProgressSink = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TaskContext:
    task: TaskSubmitted
    attempt: int
    replica_id: str
    js: JetStreamContext
    report: ProgressSink = field(repr=False)

    async def progress(self, stage: str, message: str = "") -> None:
        await self.report(stage, message)


class Runner(Protocol):
    async def run(self, ctx: TaskContext) -> TaskResult: ...


class TaskFailure(Exception):
    """A task did not succeed. ``retryable`` failures are retried with backoff while attempts remain."""

    retryable = False

    def __init__(self, code: ErrorCode, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


class TransientFailure(TaskFailure):
    """Worth another attempt later: rate limits, an unreachable LLM, a network error."""

    retryable = True


class PermanentFailure(TaskFailure):
    """Another attempt would fail the same way: invalid input, validation that keeps failing, budget spent."""

    retryable = False
