"""Stage callables that the workflow tests name in their workflow files (``tests.workflow.stages:...``)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from handoff.common.clock import utcnow
from handoff.workflow.runner import StageContext

STARTED: dict[str, datetime] = {}


async def mark(ctx: StageContext) -> str:
    """Records when the stage started, then takes ``ctx.args['seconds']``."""
    STARTED[f"{ctx.run_id}:{ctx.stage}"] = utcnow()
    await asyncio.sleep(float(ctx.args.get("seconds", 0)))
    return f"{ctx.stage} done"
