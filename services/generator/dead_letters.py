"""Dead letters: submits that cannot be run go to the dead-letter stream with the reason and the raw bytes.

Two ways in: a submit that does not decode (or names another task than its subject), seen by the replica that
pulled it; and a submit whose deliveries ran out, announced by the server's MAX_DELIVERIES advisory, which one
replica handles (core queue group). The submit stays in the limits stream either way. When the subject names a
task, a ``TaskFinished(dead_lettered)`` is published too, so nobody waiting on that task waits forever.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from handoff.common.clock import utcnow
from handoff.generator.errors import task_error
from handoff.generator.publisher import PublishAborted, Publisher
from handoff.generator.stats import UNKNOWN_KIND, GeneratorStats
from handoff.schemas import names
from handoff.schemas.events import DeadLettered, DeadLetterReason, ErrorCode, Ident, TaskFinished, TaskStatus

log = structlog.get_logger(__name__)

ORIGIN = "generator"


class MaxDeliveriesAdvisory(msgspec.Struct, forbid_unknown_fields=False):
    """The fields Handoff reads from ``io.nats.jetstream.advisory.v1.max_deliver``."""

    stream: str
    consumer: str
    stream_seq: int
    deliveries: int = 0


_advisory_decoder = msgspec.json.Decoder(MaxDeliveriesAdvisory)


def ident_or_none(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return msgspec.convert(token, Ident)
    except msgspec.ValidationError:
        return None


def task_of_subject(subject: str) -> tuple[str | None, str | None]:
    """``(run_id, task_id)`` named by a submit subject; None for whatever is not a valid identifier."""
    parsed = names.parse_task_subject(subject)
    if parsed is None:
        return None, None
    run_token, task_token, _ = parsed
    run_id, task_id = ident_or_none(run_token), ident_or_none(task_token)
    if task_id is None or (run_token is not None and run_id is None):
        return None, None
    return run_id, task_id


class DeadLetters:
    def __init__(self, nc: NATS, publisher: Publisher, *, replica_id: str, stats: GeneratorStats) -> None:
        self._nc = nc
        self._publisher = publisher
        self._replica_id = replica_id
        self._stats = stats
        self._sub: Subscription | None = None

    async def start(self) -> None:
        subject = names.max_deliveries_advisory(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
        self._sub = await self._nc.subscribe(subject, queue=names.DEAD_LETTER_QUEUE_GROUP, cb=self._on_advisory)

    async def stop(self) -> None:
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None

    async def undecodable(self, msg: Msg, reason: DeadLetterReason, detail: str, *, finish: bool = True) -> None:
        """Dead-letter a pulled submit that cannot run. The caller terms the message afterwards.

        ``finish=False``: publish no ``TaskFinished`` for it (the task id belongs to another submit, whose own
        finish must not be pre-empted or de-duplicated away)."""
        meta = msg.metadata
        await self.dead_letter(
            original=msg.data,
            subject=msg.subject,
            reason=reason,
            detail=detail,
            stream_seq=meta.sequence.stream,
            deliveries=meta.num_delivered,
            headers=msg.headers or {},
            finish=finish,
        )

    async def _on_advisory(self, msg: Msg) -> None:
        try:
            await self._handle_advisory(msg)
        except (PublishAborted, nats.errors.ConnectionClosedError) as exc:
            log.error("a MAX_DELIVERIES advisory was not handled (shutting down)", error=str(exc), exc_info=True)

    async def _handle_advisory(self, msg: Msg) -> None:
        try:
            advisory = _advisory_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("unreadable MAX_DELIVERIES advisory", error=str(exc), data=msg.data[:500])
            return
        stored = await self._publisher.message_at(advisory.stream, advisory.stream_seq)
        if stored is None:
            log.error("a submit ran out of deliveries but is gone from the stream", stream_seq=advisory.stream_seq)
            return
        if await self._is_finished(stored.subject or ""):
            log.info("a finished task's submit ran out of deliveries (its ack was lost); nothing to dead-letter")
            return
        await self.dead_letter(
            original=stored.data or b"",
            subject=stored.subject or "",
            reason=DeadLetterReason.MAX_DELIVERIES,
            detail=f"delivered {advisory.deliveries} times to consumer {advisory.consumer} without being acked",
            stream_seq=advisory.stream_seq,
            deliveries=advisory.deliveries,
            headers=stored.headers or {},
        )

    async def _owns(self, run_id: str | None, task_id: str) -> bool:
        """Whether ``run_id`` submitted ``task_id`` first: only the owner's run gets a finish of that id."""
        first = await self._publisher.first_on_subject(
            names.EVENTS_STREAM, names.task_filter(task_id, names.EventType.SUBMITTED)
        )
        parsed = names.parse_task_subject(first.subject or "") if first is not None else None
        return parsed is None or parsed[0] == run_id

    async def _is_finished(self, subject: str) -> bool:
        """Whether the task ``subject`` names has its TaskFinished already."""
        run_id, task_id = task_of_subject(subject)
        if task_id is None:
            return False
        finished_subject = names.task_subject(run_id, task_id, names.EventType.FINISHED)
        return await self._publisher.last_on_subject(names.EVENTS_STREAM, finished_subject) is not None

    async def dead_letter(
        self,
        *,
        original: bytes,
        subject: str,
        reason: DeadLetterReason,
        detail: str,
        stream_seq: int,
        deliveries: int,
        headers: Mapping[str, str],
        finish: bool = True,
    ) -> None:
        run_id, task_id = task_of_subject(subject)
        letter = DeadLettered(
            original=original,
            original_subject=subject[:1024],
            reason=reason,
            detail=task_error(ErrorCode.DEAD_LETTERED, detail).message,
            origin=ORIGIN,
            dead_lettered_at=utcnow(),
            task_id=task_id,
            run_id=run_id,
            stream_seq=stream_seq,
            deliveries=deliveries,
            headers={str(k): str(v) for k, v in headers.items()},
        )
        await self._publisher.publish(
            names.dlq_subject(ORIGIN), letter, msg_id=names.dead_letter_msg_id(names.EVENTS_STREAM, stream_seq)
        )
        self._stats.dead_lettered(ORIGIN, reason)
        log.warning("submit dead-lettered", reason=reason, detail=detail, subject=subject, stream_seq=stream_seq)
        if not finish or task_id is None or await self._is_finished(subject) or not await self._owns(run_id, task_id):
            return
        finished = TaskFinished(
            task_id=task_id,
            run_id=run_id,
            status=TaskStatus.DEAD_LETTERED,
            finished_at=utcnow(),
            attempt=deliveries,
            replica_id=self._replica_id,
            error=task_error(ErrorCode.DEAD_LETTERED, f"{reason}: {detail}"),
        )
        finished_subject = names.task_subject(run_id, task_id, names.EventType.FINISHED)
        await self._publisher.publish(finished_subject, finished, msg_id=names.finished_msg_id(task_id))
        self._stats.task_finished(UNKNOWN_KIND, finished)
