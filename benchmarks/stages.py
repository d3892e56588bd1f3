"""Stage callables for the workflow benchmark's generated workflow file: scaled-down stand-ins for a pipeline's
stages (testing, refactoring, deploy), each an ``asyncio.sleep`` of ``args.seconds``. Benchmark runners only."""

from __future__ import annotations

import asyncio

from handoff.workflow.runner import StageContext


async def work(ctx: StageContext) -> str:
    seconds = float(ctx.args.get("seconds", 0))
    await asyncio.sleep(seconds)
    return f"stand-in: slept {seconds:g} s"
