"""Keeping a delivery alive while its task runs, and noticing reconnects.

JetStream redelivers a submit ``ack_wait`` after the last sign of life. A heartbeat sends ``in_progress()``
every ``ack_wait / 3`` and once more right after the client reconnects, so a task of any length is never
redelivered while its replica lives, and a replica that dies hands its task on ``ack_wait`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

log = structlog.get_logger(__name__)


class ConnectionWatch:
    """Tells waiters when the client has reconnected (polls the client's reconnect counter)."""

    def __init__(self, nc: NATS, *, poll_s: float = 0.2) -> None:
        self._nc = nc
        self._poll_s = poll_s
        self._seen = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._seen = self._nc.stats["reconnects"]
        self._task = asyncio.create_task(self._poll(), name="generator-connection-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def reconnected(self) -> None:
        """Return after the next reconnect."""
        await self._changed.wait()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            count = self._nc.stats["reconnects"]
            if count != self._seen and self._nc.is_connected:
                self._seen = count
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()


async def _beat(msg: Msg, interval_s: float, watch: ConnectionWatch) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):  # unlike wait_for, no task per wait
                await watch.reconnected()
        try:
            await msg.in_progress()
        except nats.errors.ConnectionClosedError:
            return
        except nats.errors.OutboundBufferLimitError as exc:
            log.warning("heartbeat not sent: client buffer full while disconnected", error=str(exc))


@contextlib.asynccontextmanager
async def heartbeat(msg: Msg, *, interval_s: float, watch: ConnectionWatch) -> AsyncIterator[None]:
    task = asyncio.create_task(_beat(msg, interval_s, watch), name="generator-heartbeat")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
