"""Keeping a delivery alive while its task runs, and noticing reconnects.

JetStream redelivers a submit ``ack_wait`` after the last sign of life. A heartbeat sends ``in_progress()``
about every ``ack_wait / 3`` and once more right after the client reconnects, so a task of any length is never
redelivered while its replica lives, and a replica that dies hands its task on ``ack_wait`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

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


class Heartbeats:
    """One loop for every delivery a replica holds (not a task per delivery): each gets ``in_progress()`` once
    ``interval_s`` has passed since it was taken or last beaten (checked every ``interval_s / 4``), and all of them
    right after a reconnect, when ``on_reconnect`` is called too."""

    def __init__(
        self, watch: ConnectionWatch, *, interval_s: float, on_reconnect: Callable[[], None] | None = None
    ) -> None:
        self._watch = watch
        self.interval_s = interval_s
        self._on_reconnect = on_reconnect
        self._held: dict[int, tuple[Msg, float]] = {}  # id(msg) -> the delivery and when it last showed life
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="generator-heartbeats")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    @contextlib.contextmanager
    def keep_alive(self, msg: Msg) -> Iterator[None]:
        """Heartbeat ``msg`` while the block runs."""
        key = id(msg)
        self._held[key] = (msg, asyncio.get_running_loop().time())
        try:
            yield
        finally:
            self._held.pop(key, None)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            reconnected = False
            try:
                async with asyncio.timeout(self.interval_s / 4):
                    await self._watch.reconnected()
                reconnected = True
            except TimeoutError:
                pass
            now = loop.time()
            due = [(k, m) for k, (m, last) in self._held.items() if reconnected or now - last >= self.interval_s]
            for key, msg in due:
                if key in self._held:
                    self._held[key] = (msg, now)
                if not await _beat(msg):
                    return
            if reconnected and self._on_reconnect is not None:
                self._on_reconnect()


async def _beat(msg: Msg) -> bool:
    """``in_progress()`` for ``msg``; False once the connection is closed for good."""
    try:
        await msg.in_progress()
    except nats.errors.ConnectionClosedError:
        return False
    except nats.errors.OutboundBufferLimitError as exc:
        log.warning("heartbeat not sent: client buffer full while disconnected", error=str(exc))
    return True
