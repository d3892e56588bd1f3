"""Real broker fixtures' building blocks (no broker mocks anywhere in the suite)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from handoff.schemas.topology import TopologyParams

# Short timings so redelivery and heartbeats can be observed in seconds.
FAST_TOPOLOGY = TopologyParams(
    ack_wait_s=2.0,
    max_deliver=5,
    retry_backoff_s=(0.2, 0.4, 0.8),
    max_ack_pending=16,
    duplicate_window_s=120.0,
)


async def eventually[T](
    probe: Callable[[], Awaitable[T]],
    *,
    timeout_s: float = 10.0,
    interval_s: float = 0.05,
    what: str = "condition",
) -> T:
    """Await ``probe()`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: T | None = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; last value: {last!r}")
