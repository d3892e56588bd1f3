"""The runner for ``Sleep`` tasks: waits, then succeeds or fails as the task says. No agent is involved.

It exists for benchmarks and diagnostics (queueing, concurrency, retries, crash recovery), and is labelled as
such wherever it is used.
"""

from __future__ import annotations

import asyncio
import time

from handoff.runners.base import PermanentFailure, TaskContext, TransientFailure
from handoff.schemas.events import ErrorCode, Sleep, SleepResult, TaskResult


class SleepRunner:
    def __init__(self, *, progress_every_s: float = 0.0) -> None:
        self.progress_every_s = progress_every_s

    async def run(self, ctx: TaskContext) -> TaskResult:
        payload = ctx.task.payload
        if not isinstance(payload, Sleep):
            raise PermanentFailure(ErrorCode.INVALID_TASK, f"SleepRunner cannot run {type(payload).__name__}")
        started = time.monotonic()
        if self.progress_every_s > 0:
            remaining = payload.duration_s
            while remaining > 0:
                step = min(self.progress_every_s, remaining)
                await asyncio.sleep(step)
                remaining -= step
                await ctx.progress("sleeping", f"{payload.duration_s - remaining:.1f}/{payload.duration_s:.1f} s")
        else:
            await asyncio.sleep(payload.duration_s)
        if payload.fail_with is not None:
            failure = TransientFailure if payload.fail_retryable else PermanentFailure
            raise failure(payload.fail_with, f"sleep task asked to fail with {payload.fail_with}")
        return SleepResult(slept_s=time.monotonic() - started)
