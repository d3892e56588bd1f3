"""Waiting without polling: ordered push consumers that JetStream feeds as things happen.

``FinishWatch`` listens to two sources for a set of task ids and reports each task's ``TaskFinished`` once:

* the collector's records (``$KV.handoff_tasks.<task>``, last value per key, then every update), and
* the tasks' ``finished`` events in the events stream (``handoff.evt.*.<task>.finished``),

so a result arrives as soon as the generator publishes it, even while the collector lags or restarts, and also
when only the record is left. Both consumers start with the last message per subject, so a finish that happened
just before the watch started is delivered too (no gap between a look-up and the watch). They use an idle
heartbeat (``watch_heartbeat_s``) so that after a nats-server restart they notice within about two heartbeats
and recreate themselves from the last stream sequence they saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from schemas import names
from schemas.codec import DecodeError, Decoder
from schemas.events import TaskFinished
from services.client.consumer_names import ordered_config
from services.client.retry import retry_transient
from services.collector.records import task_record_decoder

log = structlog.get_logger(__name__)

FILTERS_PER_CONSUMER = 256
_KV_OPERATION = "KV-Operation"
_finished: Decoder[TaskFinished] = Decoder(TaskFinished)


async def ordered_subscription(
    js: JetStreamContext,
    *,
    stream: str,
    filters: list[str],
    deliver: DeliverPolicy,
    heartbeat_s: float,
    on_msg: Callable[[Msg], Awaitable[None]],
    give_up_after_s: float = 30.0,
) -> JetStreamContext.PushSubscription:
    """An ephemeral ordered consumer over ``filters`` of ``stream`` that calls ``on_msg`` for each message.

    Creating it is retried while the server does not answer (a restart), for up to ``give_up_after_s``.
    """

    async def subscribe() -> JetStreamContext.PushSubscription:
        return await js.subscribe(
            filters[0],
            stream=stream,
            cb=on_msg,
            ordered_consumer=True,
            idle_heartbeat=heartbeat_s,
            deliver_policy=deliver,
            config=ordered_config(filters),  # named: see services.client.consumer_names
        )

    return await retry_transient(subscribe, what=f"watch {filters[0]}", give_up_after_s=give_up_after_s)


async def release(js: JetStreamContext, sub: JetStreamContext.PushSubscription) -> None:
    """Unsubscribe and delete the ephemeral consumer behind ``sub`` at once.

    Left to the server, an ordered consumer lingers for its inactivity threshold (5 s) after the last interest;
    a client waiting on many results in a row would pile them up until the stream's consumer limit refuses new
    ones. nats-py keeps the consumer's current name (it changes when an ordered consumer is reset) on the
    subscription.
    """
    stream, consumer = getattr(sub, "_stream", None), getattr(sub, "_consumer", None)
    try:
        await sub.unsubscribe()
    except (nats.errors.Error, TimeoutError) as err:  # connection gone: nothing left to release
        log.debug("watch unsubscribe failed", error=str(err))
        return
    if stream and consumer:
        try:
            await js.delete_consumer(stream, consumer)
        except (nats.js.errors.NotFoundError, nats.errors.Error, TimeoutError) as err:
            log.debug("ephemeral consumer not deleted; it expires by itself", consumer=consumer, error=str(err))


class FinishWatch:
    """``async with FinishWatch(js, ids) as watch: finished = await watch.next()`` (each task reported once)."""

    def __init__(
        self,
        js: JetStreamContext,
        task_ids: Iterable[str],
        *,
        heartbeat_s: float,
        give_up_after_s: float,
        accept: Callable[[TaskFinished], Awaitable[bool]] | None = None,
    ) -> None:
        self._js = js
        self._accept = accept  # e.g. "is this finish of the run that owns the task?"; a refused one is skipped
        self._give_up_after_s = give_up_after_s
        self._ids = list(dict.fromkeys(task_ids))
        self._wanted = set(self._ids)
        self._heartbeat_s = heartbeat_s
        self._queue: asyncio.Queue[TaskFinished] = asyncio.Queue()
        self._reported: set[str] = set()
        self._subs: list[JetStreamContext.PushSubscription] = []

    async def __aenter__(self) -> FinishWatch:
        try:
            for start in range(0, len(self._ids), FILTERS_PER_CONSUMER):
                chunk = self._ids[start : start + FILTERS_PER_CONSUMER]
                self._subs.append(
                    await ordered_subscription(
                        self._js,
                        stream=names.EVENTS_STREAM,
                        filters=[names.task_filter(t, names.EventType.FINISHED) for t in chunk],
                        deliver=DeliverPolicy.LAST_PER_SUBJECT,
                        heartbeat_s=self._heartbeat_s,
                        on_msg=self._on_finished,
                        give_up_after_s=self._give_up_after_s,
                    )
                )
                self._subs.append(
                    await ordered_subscription(
                        self._js,
                        stream=names.kv_stream(names.TASKS_BUCKET),
                        filters=[names.kv_key_subject(names.TASKS_BUCKET, t) for t in chunk],
                        deliver=DeliverPolicy.LAST_PER_SUBJECT,
                        heartbeat_s=self._heartbeat_s,
                        on_msg=self._on_record,
                        give_up_after_s=self._give_up_after_s,
                    )
                )
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        subs, self._subs = self._subs, []
        await asyncio.gather(*(release(self._js, sub) for sub in subs))

    async def next(self) -> TaskFinished:
        """The next task of the set to finish (waits as long as it takes; bound it with ``asyncio.timeout``)."""
        return await self._queue.get()

    async def _report(self, finished: TaskFinished) -> None:
        if finished.task_id not in self._wanted or finished.task_id in self._reported:
            return
        if self._accept is not None and not await self._accept(finished):
            log.warning("finish of another run ignored", task_id=finished.task_id, run_id=finished.run_id)
            return
        if finished.task_id not in self._reported:
            self._reported.add(finished.task_id)
            self._queue.put_nowait(finished)

    async def _on_finished(self, msg: Msg) -> None:
        try:
            finished = _finished.decode(msg.data)
        except DecodeError as exc:
            log.warning("undecodable finished event ignored", subject=msg.subject, reason=exc.reason.value)
            return
        await self._report(finished)

    async def _on_record(self, msg: Msg) -> None:
        if not msg.data or (msg.headers and msg.headers.get(_KV_OPERATION)):
            return  # a delete or purge marker
        try:
            record = task_record_decoder.decode(msg.data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.warning("undecodable task record ignored", subject=msg.subject, error=str(exc))
            return
        if record.finished is not None:
            await self._report(record.finished)
