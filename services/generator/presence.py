"""A generator replica reports itself (slots, counters, readiness) in the ``handoff_replicas`` bucket every few
seconds. Entries expire with the bucket's TTL, so a killed replica disappears from ``handoff status`` on its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from types import TracebackType

import msgspec
import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, NotFoundError

from handoff.common.clock import utcnow
from handoff.generator.stats import GeneratorStats
from handoff.observability import metrics
from handoff.schemas import names
from handoff.schemas.records import ReplicaPresence

log = structlog.get_logger(__name__)


class PresenceReporter:
    """``async with PresenceReporter(js, stats, interval_s=5):`` reports until the block ends, then withdraws."""

    def __init__(self, js: JetStreamContext, stats: GeneratorStats, *, interval_s: float = 5.0) -> None:
        self._js = js
        self._stats = stats
        self._interval_s = interval_s
        self._since = utcnow()
        self._task: asyncio.Task[None] | None = None

    def snapshot(self) -> ReplicaPresence:
        s = self._stats
        return ReplicaPresence(
            replica_id=s.replica_id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            slots=s.slots,
            slots_in_use=s.slots_in_use,
            started=s.started,
            finished=s.finished_total,
            dead_letters=s.dead_letters,
            ready=s.ready,
            since=self._since,
            reported_at=utcnow(),
        )

    async def __aenter__(self) -> PresenceReporter:
        self._task = asyncio.create_task(self._loop(), name="presence")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            kv = await self._js.key_value(names.REPLICAS_BUCKET)
            await asyncio.wait_for(kv.delete(self._stats.replica_id), timeout=2)
        except (BucketNotFoundError, NotFoundError, nats.errors.Error, TimeoutError) as err:
            log.debug("presence not withdrawn; it expires by itself", error=str(err))

    async def _loop(self) -> None:
        kv = None
        failing = False
        while True:
            try:
                kv = kv or await self._js.key_value(names.REPLICAS_BUCKET)
                await asyncio.wait_for(kv.put(self._stats.replica_id, msgspec.json.encode(self.snapshot())), 2)
                queue = await self._js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER, timeout=2)
                metrics.QUEUE_DEPTH.set(queue.num_pending or 0)
                if failing:
                    log.info("presence reports resumed")
                failing = False
            except (BucketNotFoundError, NotFoundError) as err:
                kv = None  # the bucket was re-created (topology apply): bind it again
                if not failing:
                    log.warning("presence not reported: the replicas bucket is missing", error=str(err))
                failing = True
            except (nats.errors.Error, TimeoutError) as err:
                if not failing:  # once per streak: 'handoff status' does not list this replica meanwhile
                    log.warning("presence not reported; retrying", error=str(err) or type(err).__name__)
                failing = True
            await asyncio.sleep(self._interval_s)
