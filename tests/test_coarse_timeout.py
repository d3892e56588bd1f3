"""``coarse_timeout`` behaves as ``asyncio.timeout`` does, up to its resolution, with one loop timer for many."""

from __future__ import annotations

import asyncio

import pytest

from handoff.common.coarse_timeout import RESOLUTION_S, coarse_timeout


async def test_a_block_past_its_deadline_raises_timeout_error_within_the_resolution() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with coarse_timeout(0.1):
            await asyncio.sleep(5)
    elapsed = loop.time() - started
    assert 0.1 <= elapsed < 0.1 + RESOLUTION_S + 0.5  # the margin is for a loaded machine


async def test_a_block_that_ends_in_time_returns_and_the_task_is_not_cancelled_later() -> None:
    async with coarse_timeout(0.05):
        await asyncio.sleep(0)
    await asyncio.sleep(0.2)  # past the deadline: no cancellation arrives
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    async def body() -> None:
        async with coarse_timeout(5):
            await asyncio.sleep(5)

    task = asyncio.ensure_future(body())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outer_deadline_is_the_outer_blocks_timeout() -> None:
    outer_fired = False
    try:
        async with coarse_timeout(0.05):
            try:
                async with coarse_timeout(10):
                    await asyncio.sleep(5)
            except TimeoutError:
                pytest.fail("the inner block's deadline had not passed")
    except TimeoutError:
        outer_fired = True
    assert outer_fired


async def test_many_blocks_share_the_loops_timers() -> None:
    loop = asyncio.get_running_loop()

    def timers() -> int:
        return sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]

    before = timers()

    gate = asyncio.Event()

    async def one() -> None:
        async with coarse_timeout(30):
            await gate.wait()

    tasks = [asyncio.ensure_future(one()) for _ in range(500)]
    await asyncio.sleep(0)
    assert timers() - before <= 2  # asyncio.timeout: 500 timers
    gate.set()
    await asyncio.gather(*tasks)
    assert timers() == before  # none left behind
