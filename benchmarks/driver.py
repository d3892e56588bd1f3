"""The pipeline side of a measurement: submit tasks through the Handoff client with at most ``in_flight``
outstanding, follow the run with ``client.watch``, and stop when the collector's ``RunFinished`` arrives.

Every task belongs to one run (``run_size`` = the number of tasks), so the measurement ends only when the
collector has folded every task into its record and joined the run: the collector is on the measured path, not
beside it. A task's latency is from the call to ``client.submit`` to its ``TaskFinished`` reaching the client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from benchmarks.harness import Measurement
from handoff.client import HandoffClient
from handoff.schemas.events import AnyEvent, RunFinished, TaskFinished, TaskPayload, TaskStatus


async def drive(
    client: HandoffClient,
    *,
    name: str,
    run_id: str,
    tasks: int,
    in_flight: int,
    payload: Callable[[int], TaskPayload],
    timeout_s: float = 600.0,
    events: list[AnyEvent] | None = None,
) -> Measurement:
    """``events``: if given, every event of the run is appended to it (with the client's receive order)."""
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[TaskFinished]] = {}
    run_done: asyncio.Future[RunFinished] = loop.create_future()

    async def follow() -> None:
        async for event in client.watch(run_id, from_start=True, until_finished=True):
            if events is not None:
                events.append(event)
            if isinstance(event, TaskFinished):
                future = waiting.pop(event.task_id, None)
                if future is not None and not future.done():
                    future.set_result(event)
            elif isinstance(event, RunFinished) and not run_done.done():
                run_done.set_result(event)

    latencies: list[float] = []
    failed = 0
    window = asyncio.Semaphore(in_flight)

    async def one(index: int) -> None:
        nonlocal failed
        task_id = f"{run_id}-{index:06d}"
        try:
            future: asyncio.Future[TaskFinished] = loop.create_future()
            waiting[task_id] = future
            started = time.perf_counter()
            await client.submit(payload(index), task_id=task_id, run_id=run_id, run_size=tasks, max_attempts=1)
            finished = await future  # registered before the submit: it cannot be missed
            latencies.append(time.perf_counter() - started)
            if finished.status != TaskStatus.SUCCEEDED:
                failed += 1
        finally:
            window.release()

    follower = asyncio.create_task(follow(), name="bench-follow")
    callers: set[asyncio.Task[None]] = set()
    try:
        async with asyncio.timeout(timeout_s):
            t0 = time.perf_counter()
            for index in range(tasks):
                await window.acquire()
                caller = asyncio.create_task(one(index))
                callers.add(caller)
                caller.add_done_callback(callers.discard)
            await asyncio.gather(*callers)
            await asyncio.shield(run_done)
            wall = time.perf_counter() - t0
    finally:
        follower.cancel()
        for caller in callers:
            caller.cancel()
        await asyncio.gather(follower, *callers, return_exceptions=True)
    return Measurement(name, tasks, wall, latencies, failed=failed)


async def drive_results(
    client: HandoffClient,
    *,
    name: str,
    tasks: int,
    in_flight: int,
    payload: Callable[[int], TaskPayload],
    timeout_s: float = 600.0,
) -> Measurement:
    """The natural loop of a pipeline: ``in_flight`` callers, each submits one task and awaits *that* task's
    ``client.result(task_id)``, then takes the next. No run, no watch: what a caller sees is what it awaits."""
    latencies: list[float] = []
    failed = 0
    counter = iter(range(tasks))

    async def caller() -> None:
        nonlocal failed
        for index in counter:
            started = time.perf_counter()
            task_id = await client.submit(payload(index), max_attempts=1)
            finished = await client.result(task_id, timeout=timeout_s)
            latencies.append(time.perf_counter() - started)
            if finished.status != TaskStatus.SUCCEEDED:
                failed += 1

    async with asyncio.timeout(timeout_s):
        t0 = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(min(in_flight, tasks))))
        wall = time.perf_counter() - t0
    return Measurement(name, tasks, wall, latencies, failed=failed)
