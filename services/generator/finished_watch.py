"""Telling a running task that its TaskFinished appeared, once it has run long enough for that to matter.

A run whose task another run finished (a redelivery that ran while this replica was frozen or cut off) must stop
and publish nothing. Publishing nothing does not depend on this watch: the finish's message id makes the stream
answer "duplicate" (see ``execution``). The watch saves the work of a run that would be thrown away, so it starts
only after a task has run ``after_s``: then it subscribes to the task's own finished subject and looks the subject
up once, for a finish published before the subscription. A short task costs nothing here, and a replica receives
only the finishes of its own long tasks, not every finish of every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import RawStreamMsg

from handoff.generator.publisher import PublishAborted

log = structlog.get_logger(__name__)

OnFinished = Callable[[bytes], None]
LastOnSubject = Callable[[str], Awaitable[RawStreamMsg | None]]

WATCH_AFTER_S = 1.0
"""How long a task runs before its finished subject is watched: a run stopped this much later wastes little."""


class FinishedWatch:
    def __init__(self, nc: NATS, last_on_subject: LastOnSubject, *, after_s: float = WATCH_AFTER_S) -> None:
        self.nc = nc
        self.last_on_subject = last_on_subject
        self.after_s = after_s
        self.tasks: set[asyncio.Task[None]] = set()

    def watching(self, subject: str, on_finished: OnFinished) -> contextlib.AbstractAsyncContextManager[None]:
        """Call ``on_finished(data)`` for a TaskFinished on ``subject`` that appears while the block runs (from
        ``after_s`` into it; one that appeared before then is found by a look-up at that moment)."""
        return _Watch(self, subject, on_finished)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class _Watch:
    """One task's watch: a timer until ``after_s``, then a subscription and a look-up; all undone on exit."""

    def __init__(self, owner: FinishedWatch, subject: str, on_finished: OnFinished) -> None:
        self._owner = owner
        self._subject = subject
        self._on_finished = on_finished
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._sub: Subscription | None = None

    async def __aenter__(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._owner.after_s, self._begin)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        nc = self._owner.nc
        if self._sub is not None and not nc.is_closed:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()

    def _begin(self) -> None:
        self._task = asyncio.create_task(self._watch(), name=f"finished-watch {self._subject}")
        self._owner.tasks.add(self._task)
        self._task.add_done_callback(self._owner.tasks.discard)

    async def _on_msg(self, msg: Msg) -> None:
        self._on_finished(msg.data)

    async def _watch(self) -> None:
        try:
            self._sub = await self._owner.nc.subscribe(self._subject, cb=self._on_msg)
            stored = await self._owner.last_on_subject(self._subject)
        except (nats.errors.Error, PublishAborted) as exc:
            log.warning("cannot watch the task's finished subject; it runs to its end", error=repr(exc))
            return
        if stored is not None and stored.data:
            self._on_finished(stored.data)
