"""The lifecycle events of one attempt at a task: TaskStarted, TaskProgress, and the one TaskFinished.

Each carries a message id derived from the task id (and attempt and sequence), so a publish retried after an
outage is de-duplicated by the stream. TaskFinished's id depends on the task id alone: however many replicas
finish the same task, the stream keeps one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

import nats.errors
import nats.js.errors
import structlog
from nats.js.api import PubAck

from handoff.common.clock import utcnow
from handoff.common.secrets import process_redactor
from handoff.generator.errors import Finish, task_error
from handoff.generator.publisher import PublishAborted, Publisher
from handoff.schemas import names
from handoff.schemas.events import (
    ErrorCode,
    TaskFinished,
    TaskProgress,
    TaskStarted,
    TaskStatus,
    TaskSubmitted,
    Timings,
)

log = structlog.get_logger(__name__)

PROGRESS_ATTEMPTS = 3
"""Progress is informational: after this many failed publishes it is logged and dropped, and the task goes on."""


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


class TaskEvents:
    def __init__(
        self,
        publisher: Publisher,
        task: TaskSubmitted,
        *,
        attempt: int,
        replica_id: str,
        trace_headers: Mapping[str, str] | None = None,
        replay_of: int | None = None,
    ) -> None:
        self._publisher = publisher
        self.replay_of = replay_of  # DLQ sequence when this submit was replayed from the dead-letter stream
        self._headers = dict(trace_headers or {})
        self.task = task
        self.attempt = attempt
        self.replica_id = replica_id
        self.started_at: datetime | None = None
        self._started: asyncio.Future[None] | None = None
        self._seq = 0

    def _subject(self, event: names.EventType) -> str:
        return names.task_subject(self.task.run_id, self.task.task_id, event)

    def start(self) -> asyncio.Future[None]:
        """Begin publishing the TaskStarted; the runner may start meanwhile. Progress and the finish wait for it,
        so the stream still holds TaskStarted before them. Await the future for the outcome."""
        self._started = asyncio.ensure_future(self.started())
        return self._started

    async def _after_start(self) -> None:
        if self._started is not None and not self._started.done():
            await asyncio.shield(self._started)  # a cancelled progress report must not cancel the TaskStarted

    async def started(self) -> None:
        self.started_at = utcnow()
        event = TaskStarted(
            task_id=self.task.task_id,
            run_id=self.task.run_id,
            attempt=self.attempt,
            replica_id=self.replica_id,
            started_at=self.started_at,
        )
        await self._publisher.publish(
            self._subject(names.EventType.STARTED),
            event,
            msg_id=names.started_msg_id(self.task.task_id, self.attempt),
            headers=self._headers,
        )

    async def progress(self, stage: str, message: str = "") -> None:
        """Publish a TaskProgress; a broker outage delays it a little and then drops it (with a log line)."""
        seq, self._seq = self._seq, self._seq + 1
        try:
            await self._after_start()
        except PublishAborted as exc:
            log.warning("progress event dropped", stage=stage, error=str(exc))
            return
        event = TaskProgress(
            task_id=self.task.task_id,
            run_id=self.task.run_id,
            attempt=self.attempt,
            seq=seq,
            stage=stage[:200],
            at=utcnow(),
            message=process_redactor()(message)[:65_536],  # before cutting: half a secret is not recognised
        )
        try:
            await self._publisher.publish(
                self._subject(names.EventType.PROGRESS),
                event,
                msg_id=names.progress_msg_id(self.task.task_id, self.attempt, seq),
                attempts=PROGRESS_ATTEMPTS,
                headers=self._headers,
            )
        except PublishAborted as exc:
            log.warning("progress event dropped", stage=stage, error=str(exc))

    def _finished_event(self, decision: Finish) -> TaskFinished:
        now = utcnow()
        return TaskFinished(
            task_id=self.task.task_id,
            run_id=self.task.run_id,
            status=decision.status,
            finished_at=now,
            attempt=self.attempt,
            replica_id=self.replica_id,
            result=decision.result,
            error=decision.error,
            timings=Timings(
                submitted_at=self.task.submitted_at,
                started_at=self.started_at,
                finished_at=now,
                queue_wait_s=_seconds(self.task.submitted_at, self.started_at),
                run_s=_seconds(self.started_at, now),
                total_s=_seconds(self.task.submitted_at, now),
            ),
        )

    async def finished(self, decision: Finish) -> TaskFinished | None:
        """Publish the TaskFinished. A result the stream refuses (too large) becomes a failure saying so.

        None when the stream already held another run's TaskFinished under the same message id (a duplicate ack
        for a message that is not this one): that run finished the task, this outcome does not count.
        """
        await self._after_start()
        subject = self._subject(names.EventType.FINISHED)
        msg_id = (
            names.finished_msg_id(self.task.task_id)
            if self.replay_of is None
            else names.replayed_finished_msg_id(self.task.task_id, self.replay_of)
        )
        event = self._finished_event(decision)
        try:
            ack = await self._publisher.publish(subject, event, msg_id=msg_id, headers=self._headers)
            return await self._unless_elsewhere(ack, event)
        except (nats.js.errors.APIError, nats.errors.MaxPayloadError) as exc:
            log.error("the stream refused the TaskFinished; publishing a failure instead", error=repr(exc))
            refused = task_error(
                ErrorCode.INTERNAL,
                f"the task's final event could not be stored ({type(exc).__name__}: {exc}); "
                "its result was probably larger than the stream accepts",
            )
        fallback = self._finished_event(Finish(TaskStatus.FAILED, error=refused))
        ack = await self._publisher.publish(subject, fallback, msg_id=msg_id, headers=self._headers)
        return await self._unless_elsewhere(ack, fallback)

    async def _unless_elsewhere(self, ack: PubAck, event: TaskFinished) -> TaskFinished | None:
        """``event`` if the stream holds it; None if a duplicate ack points at another run's finish. (A retried
        publish of this very event after a lost ack is also a duplicate: then the stored bytes are ours.)"""
        if not ack.duplicate:
            return event
        stored = await self._publisher.message_at(ack.stream, ack.seq)
        return event if stored is not None and stored.data == self._publisher.encode(event) else None
