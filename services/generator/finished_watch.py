"""Telling a running task that its TaskFinished appeared: one subscription per replica on every finished subject.

A run whose task another run finished (a redelivery that ran while this replica was frozen or cut off) must stop
and publish nothing. Each running task registers its finished subject here; a finish on a subject nobody
registered costs a dictionary look-up, not a decode. One subscription per replica, like the cancel watcher,
instead of a subscription (and nats-py's task for it) per running task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from handoff.schemas import names

OnFinished = Callable[[bytes], None]


class FinishedWatch:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._sub: Subscription | None = None
        self._watching: dict[str, list[OnFinished]] = {}  # several: two deliveries of one task in one replica

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(names.FINISHED_FILTER, cb=self._handle)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and not self._nc.is_closed:
            await sub.unsubscribe()

    @contextlib.contextmanager
    def watching(self, subject: str, on_finished: OnFinished) -> Iterator[None]:
        """Call ``on_finished(data)`` for every TaskFinished on ``subject`` while the block runs."""
        self._watching.setdefault(subject, []).append(on_finished)
        try:
            yield
        finally:
            callbacks = self._watching[subject]
            callbacks.remove(on_finished)
            if not callbacks:
                del self._watching[subject]

    async def _handle(self, msg: Msg) -> None:
        for on_finished in tuple(self._watching.get(msg.subject, ())):
            on_finished(msg.data)
