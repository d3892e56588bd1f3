"""A cancel for a task still waiting in the queue finishes it at once, instead of when a slot frees.

Every replica listens on the cancel subjects in one queue group, so each cancel reaches exactly one of them
(besides the plain subscription through which the replica running a task interrupts it). That replica looks the
task up: submitted, never started, not finished? Then it publishes ``TaskFinished(cancelled)`` (attempt 0) under
the task's finish message id. When a replica later pulls the submit it finds the finish and acks without running.
A replica that started the task in the meantime is interrupted by the cancel anyway, and its own finish is then a
duplicate: "finished elsewhere" (see the generator's zombie handling).
"""

from __future__ import annotations

import asyncio

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from handoff.common.clock import utcnow
from handoff.generator.cancellation import reason_of, task_id_of
from handoff.generator.errors import task_error
from handoff.generator.publisher import PublishAborted, Publisher
from handoff.generator.stats import GeneratorStats
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import ErrorCode, TaskFinished, TaskStatus, TaskSubmitted, Timings

log = structlog.get_logger(__name__)

_submitted: Decoder[TaskSubmitted] = Decoder(TaskSubmitted)


class QueuedCancels:
    def __init__(self, nc: NATS, publisher: Publisher, *, replica_id: str, stats: GeneratorStats) -> None:
        self._nc = nc
        self._publisher = publisher
        self._replica_id = replica_id
        self._stats = stats
        self._sub: Subscription | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(names.CANCEL_FILTER, queue=names.QUEUED_CANCELS_GROUP, cb=self._handle)

    async def stop(self) -> None:
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def _handle(self, msg: Msg) -> None:
        task_id = task_id_of(msg.subject)
        if task_id is None:
            return
        task = asyncio.create_task(self._finish_if_queued(task_id, reason_of(msg.data)), name="queued-cancel")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _finish_if_queued(self, task_id: str, reason: str) -> None:
        try:
            stored = await self._publisher.last_on_subject(
                names.EVENTS_STREAM, names.task_filter(task_id, names.EventType.SUBMITTED)
            )
            if stored is None:
                return  # unknown here or expired; nothing waits
            try:
                submit = _submitted.decode(stored.data or b"")
            except DecodeError:
                return  # dead-lettered when pulled
            for event in (names.EventType.STARTED, names.EventType.FINISHED):
                subject = names.task_subject(submit.run_id, task_id, event)
                if await self._publisher.last_on_subject(names.EVENTS_STREAM, subject) is not None:
                    return  # running (its replica interrupts it) or over
            now = utcnow()
            finished = TaskFinished(
                task_id=task_id,
                run_id=submit.run_id,
                status=TaskStatus.CANCELLED,
                finished_at=now,
                attempt=0,
                replica_id=self._replica_id,
                error=task_error(ErrorCode.CANCELLED, f"{reason} (before it started)"),
                timings=Timings(
                    submitted_at=submit.submitted_at,
                    finished_at=now,
                    total_s=max(0.0, (now - submit.submitted_at).total_seconds()),
                ),
            )
            ack = await self._publisher.publish(
                names.task_subject(submit.run_id, task_id, names.EventType.FINISHED),
                finished,
                msg_id=names.finished_msg_id(task_id),
            )
        except PublishAborted as exc:
            log.warning("cancel of a queued task not published; it is cancelled when pulled", error=str(exc))
            return
        if ack.duplicate:
            return  # another finish was first
        self._stats.task_finished(submit.kind, finished)
        log.info("cancelled a task before it started", task_id=task_id, run_id=submit.run_id)
