"""Waiting without polling: ordered push consumers that JetStream feeds as things happen.

``FinishFeed`` is the one subscription a client waits on results with: an ordered consumer over every task's
``finished`` subject (``handoff.evt.*.*.finished``), started on the first wait and kept until the client
closes. Each message is routed by the task id in its subject to the futures waiting for that task; messages
for tasks nobody waits on are dropped without being decoded. Every ``TaskFinished`` (succeeded, failed, timed
out, cancelled, dead-lettered) is published there by the generator, while the collector's record follows it,
so a result arrives as soon as it is published, even while the collector lags or restarts.

A waiter registers its future first, then makes sure the feed is live, then looks the task up: a finish
published before the feed started is found by the look-up, one published after is delivered by the feed.
The idle heartbeat (``watch_heartbeat_s``) makes the consumer notice a nats-server restart within about two
heartbeats and recreate itself from the last stream sequence it saw, so nothing published meanwhile is missed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from enum import Enum

import nats.errors
import nats.js.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from handoff.client.consumer_names import ordered_config
from handoff.client.retry import retry_transient
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import TaskFinished

log = structlog.get_logger(__name__)

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


COVERED_SUBMITS = 10_000
"""Tasks submitted while the feed was live whose finish the feed keeps for a later wait (oldest forgotten first:
a wait for a forgotten one looks its finish up, as any other wait does)."""


class Uncovered(Enum):
    """The feed cannot vouch for a task's finish: look it up."""

    UNCOVERED = "uncovered"


UNCOVERED = Uncovered.UNCOVERED


class FinishFeed:
    """The client's one subscription to finished events, shared by every wait (futures keyed by task id).

    A task this client submits while the feed is live is *covered*: its finish can only be published after its
    submit was stored, so the feed delivers it, and keeps it until a wait claims it even when nobody waits yet.
    A wait for a covered task needs no look-up (the natural loop: submit, then await that result).
    """

    def __init__(self, js: JetStreamContext, *, heartbeat_s: float, give_up_after_s: float) -> None:
        self._js = js
        self._heartbeat_s = heartbeat_s
        self._give_up_after_s = give_up_after_s
        self._waiting: dict[str, list[asyncio.Future[TaskFinished]]] = {}
        self._covered: OrderedDict[str, TaskFinished | None] = OrderedDict()  # task id -> its finish, once seen
        self._sub: JetStreamContext.PushSubscription | None = None
        self._starting: asyncio.Task[JetStreamContext.PushSubscription] | None = None
        self._closed = False

    @property
    def waiting(self) -> int:
        """How many task ids have a waiter now."""
        return len(self._waiting)

    def expect(self, task_id: str) -> asyncio.Future[TaskFinished]:
        """A future for ``task_id``'s TaskFinished (register it before ``live()`` and the look-up)."""
        future: asyncio.Future[TaskFinished] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(task_id, []).append(future)
        return future

    def cover(self, task_id: str) -> None:
        """Called before the submit of a new task is published: if the feed is live, it keeps that task's finish."""
        if self._sub is None:
            return
        self._covered[task_id] = None
        self._covered.move_to_end(task_id)
        while len(self._covered) > COVERED_SUBMITS:
            self._covered.popitem(last=False)

    def uncover(self, task_id: str) -> None:
        """The submit was not new after all (a duplicate, a refused or failed publish): waits look it up."""
        self._covered.pop(task_id, None)

    def claim(self, task_id: str) -> TaskFinished | Uncovered | None:
        """For a wait that registered its future (``expect``) already: the covered task's finish if the feed has
        seen it, None if not yet (the feed hands it to the future), ``UNCOVERED`` if the wait must look it up."""
        if task_id not in self._covered:
            return UNCOVERED
        return self._covered.pop(task_id)

    def settle(self, finished: TaskFinished) -> None:
        """Hand ``finished`` to everyone waiting for its task (also what a look-up found)."""
        for future in self._waiting.pop(finished.task_id, ()):
            if not future.done():
                future.set_result(finished)

    def forget(self, task_id: str, future: asyncio.Future[TaskFinished]) -> None:
        """Stop waiting with ``future`` (done or not); the last waiter of a task removes its entry."""
        futures = self._waiting.get(task_id)
        if futures is None:
            return
        if future in futures:
            futures.remove(future)
        if not futures:
            del self._waiting[task_id]
        future.cancel()

    async def live(self) -> None:
        """Return once the subscription exists (starting it on the first call; one start for concurrent calls).

        Creating it is retried while the server does not answer, for up to ``give_up_after_s``; a start that
        failed is tried again by the next call.
        """
        if self._sub is not None:
            return
        if self._closed:
            raise RuntimeError("the client is closed")
        if self._starting is None:
            self._starting = asyncio.create_task(self._start(), name="handoff-finish-feed-start")
            self._starting.add_done_callback(self._started)
        # shielded: a caller that stops waiting (its timeout) does not stop the start the others share
        sub = await asyncio.shield(self._starting)
        if not self._closed:
            self._sub = sub

    def _started(self, starting: asyncio.Task[JetStreamContext.PushSubscription]) -> None:
        """A start that failed (or was cancelled) is forgotten, so that the next call starts again; its error
        is read here even when every caller has stopped waiting."""
        if (starting.cancelled() or starting.exception() is not None) and self._starting is starting:
            self._starting = None

    async def close(self) -> None:
        """Unsubscribe and delete the consumer; waiters still waiting are cancelled."""
        self._closed = True
        starting, self._starting = self._starting, None
        sub, self._sub = self._sub, None
        if sub is None and starting is not None:
            if not starting.done():
                starting.cancel()
            results = await asyncio.gather(starting, return_exceptions=True)
            sub = results[0] if isinstance(results[0], JetStreamContext.PushSubscription) else None
        for futures in self._waiting.values():
            for future in futures:
                future.cancel()
        self._waiting.clear()
        self._covered.clear()
        if sub is not None:
            await release(self._js, sub)

    async def _start(self) -> JetStreamContext.PushSubscription:
        sub = await ordered_subscription(
            self._js,
            stream=names.EVENTS_STREAM,
            filters=[names.FINISHED_FILTER],
            deliver=DeliverPolicy.NEW,
            heartbeat_s=self._heartbeat_s,
            on_msg=self._on_finished,
            give_up_after_s=self._give_up_after_s,
        )
        await _resume_from_start(sub)
        return sub

    async def _on_finished(self, msg: Msg) -> None:
        parsed = names.parse_task_subject(msg.subject)
        if parsed is None:
            return
        task_id = parsed[1]
        waited = task_id in self._waiting
        if not waited and task_id not in self._covered:
            return  # nobody here waits for that task: not even decoded
        try:
            finished = _finished.decode(msg.data)
        except DecodeError as exc:
            log.warning("undecodable finished event ignored", subject=msg.subject, reason=exc.reason.value)
            return
        if waited:
            self._covered.pop(task_id, None)
            self.settle(finished)
        elif self._covered[task_id] is None:  # the first finish counts (as a look-up's would)
            self._covered[task_id] = finished


async def _resume_from_start(sub: JetStreamContext.PushSubscription) -> None:
    """Make a reset of a new ordered consumer resume where it started, not at the stream's first message.

    nats-py recreates an ordered consumer (after a server restart, or a gap) from the last stream sequence it
    delivered, or from sequence 1 if it has delivered nothing yet: on a long stream, a feed that saw no finish
    before the restart would replay every finish ever stored. The consumer's info says where it started.
    """
    jsi = getattr(getattr(sub, "_sub", None), "_jsi", None)
    if jsi is None or getattr(jsi, "_sseq", None) != 0:
        return
    try:
        info = await sub.consumer_info()
    except (nats.errors.Error, TimeoutError) as err:  # not fatal: a reset would replay more, nothing is lost
        log.debug("finish feed: consumer info not read", error=str(err))
        return
    if jsi._sseq == 0 and info.delivered is not None:
        jsi._sseq = info.delivered.stream_seq
