"""One delivery of one submit, from pull to ack: decode, idempotency check, run under guards, settle.

Order of things, and why:
1. The heartbeat starts first, so nothing below (not even a slow lookup during an outage) lets the delivery
   expire while this replica still holds it.
2. A submit that does not decode, or names another task than its subject, is dead-lettered and termed; so is
   one whose task id an earlier submit of another run owns (``task_id_taken``, with no TaskFinished: the finish
   of that id belongs to the owner's run).
3. If the task already has its TaskFinished, the submit is a redelivery of finished work: ack, do not run.
   Steps 2 and 3 and the attempt number come from one look-up (``task_state``), sent with the cancel look-up.
4. A stored cancel request, or a deadline already past, finishes the task without starting it.
5. TaskStarted, and the runner under its deadline and the interrupt (cancel or shutdown) while it is stored.
6. The outcome becomes one decision (``errors.decide``): publish TaskFinished then ack; or progress then a
   delayed nak; or (shutdown) an immediate nak with nothing published.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg

from handoff.common.clock import utcnow
from handoff.generator.attempts import UNREAD, Unread, next_attempt
from handoff.generator.cancellation import reason_of
from handoff.generator.dead_letters import DeadLetters
from handoff.generator.errors import (
    Decision,
    Drop,
    Finish,
    Interrupted,
    Interruption,
    Release,
    Retry,
    attempts_allowed,
    decide,
    task_error,
)
from handoff.generator.finished_watch import FinishedWatch
from handoff.generator.guard import run_guarded
from handoff.generator.heartbeat import Heartbeats
from handoff.generator.lifecycle import TaskEvents
from handoff.generator.publisher import PublishAborted, Publisher
from handoff.generator.settings import GeneratorSettings
from handoff.generator.stats import GeneratorStats
from handoff.generator.task_state import TaskState, read_task_state
from handoff.observability.tracing import trace_context_from, trace_headers_of
from handoff.runners.base import TaskContext
from handoff.runners.registry import RunnerRegistry, RunnerUnavailable
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import DeadLetterReason, ErrorCode, TaskFinished, TaskStatus, TaskSubmitted

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    """What every execution of a replica shares."""

    settings: GeneratorSettings
    nc: NATS
    js: JetStreamContext
    publisher: Publisher
    dead_letters: DeadLetters
    registry: RunnerRegistry
    stats: GeneratorStats
    heartbeats: Heartbeats
    finishes: FinishedWatch
    decoder: Decoder[TaskSubmitted]
    ack_wait_s: float
    max_deliver: int
    duplicate_window_s: float = 0.0
    """The events stream's de-duplication window (0: not known, never relied on)."""


_finished_decoder: Decoder[TaskFinished] = Decoder(TaskFinished)

DEDUP_TRUST = 0.5
"""Rely on the stream's de-duplication for at most this share of its window after the look-ups before a start: a
margin for clocks and for the time a publish takes to be stored."""


def replay_sequence(headers: Mapping[str, str] | None) -> int | None:
    """The dead-letter sequence a replayed submit carries (``handoff dlq replay``), else None."""
    value = (headers or {}).get(names.Header.REPLAY_OF)
    return int(value) if value and value.isdigit() else None


def check_subject(task: TaskSubmitted, subject: str) -> None:
    """A submit must sit on its own task's subject; anything else is dead-lettered as a mismatch."""
    expected = names.task_subject(task.run_id, task.task_id, names.EventType.SUBMITTED)
    if subject != expected:
        raise DecodeError(
            DeadLetterReason.SUBJECT_MISMATCH,
            f"submit for task {task.task_id!r} (run {task.run_id!r}) arrived on {subject!r}, expected {expected!r}",
        )


class Execution:
    def __init__(self, msg: Msg, services: Services, *, on_ran: Callable[[], None] | None = None) -> None:
        self.msg = msg
        self._s = services
        self._on_ran = on_ran  # called once the runner has returned (the replica frees the slot)
        self.task_id: str | None = None
        self._attempt_of_submit = 1
        self._looked_up_at: float | None = None  # loop time when the look-ups before the start were sent
        self._interrupt: asyncio.Future[Interrupted] = asyncio.get_running_loop().create_future()

    def interrupt(self, why: Interruption, reason: str = "") -> None:
        """Stop this task: a cancel, or a shutdown. The first interruption wins."""
        if not self._interrupt.done():
            self._interrupt.set_result(Interrupted(why, reason))

    async def run(self) -> None:
        with self._s.heartbeats.keep_alive(self.msg):
            try:
                await self._handle()
            except (PublishAborted, nats.errors.ConnectionClosedError) as exc:
                log.warning("broker unreachable until shutdown; handing the submit back", error=str(exc))
                with contextlib.suppress(nats.errors.Error):
                    await self.msg.nak()
                self._s.stats.released += 1

    async def _handle(self) -> None:
        stats = self._s.stats
        stats.delivery_received(self.msg.metadata.num_delivered)
        try:
            task = self._s.decoder.decode(self.msg.data)
            check_subject(task, self.msg.subject)
        except DecodeError as exc:
            await self._s.dead_letters.undecodable(self.msg, exc.reason, exc.message)
            await self.msg.term()
            return
        # The look-ups before a start go out together, one round trip before TaskStarted: the task's state in the
        # events stream (one batch get: other runs' submits, the last start, the finish) and a stored cancel.
        self._looked_up_at = asyncio.get_running_loop().time()
        cancel_lookup = asyncio.ensure_future(
            self._s.publisher.last_on_subject(names.CONTROL_STREAM, names.cancel_subject(task.task_id))
        )
        try:
            state = await read_task_state(self._s.publisher, task)
            owner = await self._owner_elsewhere(task, state)
            if owner is not None:
                detail = (
                    f"task id {task.task_id!r} belongs to run {owner!r}, which submitted it first; "
                    f"this submit of run {task.run_id or '(none)'!r} does not run"
                )
                await self._s.dead_letters.undecodable(self.msg, DeadLetterReason.TASK_ID_TAKEN, detail, finish=False)
                await self.msg.term()
                return
            self.task_id = task.task_id
            replay_of = replay_sequence(self.msg.headers)
            attempt = await next_attempt(
                self._s.publisher,
                task,
                submit_seq=self.msg.metadata.sequence.stream,
                replayed=replay_of is not None,
                last_started=UNREAD if state is None else state.last_started,
            )
            self._attempt_of_submit = attempt.of_this_submit
            with (
                structlog.contextvars.bound_contextvars(
                    task_id=task.task_id, run_id=task.run_id, attempt=attempt.number
                ),
                trace_context_from(self.msg.headers),  # the submitter's trace spans the run and its events
            ):
                events = TaskEvents(
                    self._s.publisher,
                    task,
                    attempt=attempt.number,
                    replica_id=self._s.settings.replica_id,
                    trace_headers=trace_headers_of(self.msg.headers),
                    replay_of=replay_of,
                )
                if await self._finished_elsewhere(events, UNREAD if state is None else state.last_finished):
                    stats.already_finished += 1
                    log.info("task has finished already; acking the redelivered submit without running it")
                    await self.msg.ack()
                    return
                decision = await self._attempt(task, events, cancel_lookup)
                await self._settle(decision, events)
        finally:
            if not cancel_lookup.done():
                cancel_lookup.cancel()
            await asyncio.gather(cancel_lookup, return_exceptions=True)  # its outcome is read or not needed

    async def _attempt(
        self, task: TaskSubmitted, events: TaskEvents, cancel_lookup: asyncio.Future[RawStreamMsg | None]
    ) -> Decision:
        to_decision = partial(
            decide,
            attempt=self._attempt_of_submit,
            allowed=attempts_allowed(task.max_attempts, self._s.max_deliver),
            backoff_s=self._s.settings.retry_backoff_s,
        )
        stored_cancel = await cancel_lookup
        if stored_cancel is not None:
            self.interrupt(Interruption.CANCELLED, reason_of(stored_cancel.data))
        if self._interrupt.done():
            return to_decision(self._interrupt.result())
        if task.deadline is not None and task.deadline <= utcnow():
            late = f"the deadline {task.deadline.isoformat()} passed before the task started"
            return to_decision(Interrupted(Interruption.TIMED_OUT, late))
        try:
            runner = await self._s.registry.resolve(type(task.payload))
        except RunnerUnavailable as exc:
            return Finish(TaskStatus.FAILED, error=task_error(ErrorCode.INTERNAL, str(exc)))
        started = events.start()  # the runner starts while TaskStarted is being stored: no round trip first
        self._s.stats.task_started(task.kind)
        log.info("task started", kind=task.kind)
        ctx = TaskContext(
            task=task,
            attempt=events.attempt,
            replica_id=self._s.settings.replica_id,
            js=self._s.js,
            report=events.progress,
        )
        timeout_s = None if task.deadline is None else (task.deadline - utcnow()).total_seconds()
        try:
            async with self._stop_when_finished_elsewhere(events):
                outcome = await run_guarded(
                    runner.run(ctx),
                    timeout_s=timeout_s if timeout_s is None else max(timeout_s, 0.0),
                    interrupt=self._interrupt,
                    interrupt_grace_s=self._s.settings.interrupt_grace_s,
                    timeout_reason=f"the deadline {task.deadline.isoformat() if task.deadline else ''} passed",
                )
        except BaseException:  # this execution itself was cancelled (a hard shutdown)
            started.cancel()
            raise
        await started  # PublishAborted if it never landed: the submit is handed back
        if self._on_ran is not None:
            self._on_ran()
        return to_decision(outcome)

    async def _settle(self, decision: Decision, events: TaskEvents) -> None:
        stats = self._s.stats
        match decision:
            case Finish(status=status, error=error):
                # A concurrent run (after a redelivery) may have got there first. Any TaskFinished the look-up
                # before the start did not see was published after it; while that is well within the stream's
                # duplicate window, this publish's message id makes the stream answer "duplicate" for it, and
                # events.finished() turns that into "finished elsewhere" (no second look-up). Beyond that, or
                # for a replayed submit (its own message id), look first; the check and the duplicate ack
                # together leave only a publish racing another's.
                if self._dedup_covers(events) or not await self._finished_elsewhere(events):
                    published = await events.finished(decision)
                else:
                    published = None
                if published is None:
                    stats.already_finished += 1
                    log.warning("another run finished this task first; dropping this attempt's outcome")
                else:
                    stats.task_finished(events.task.kind, published)
                    log.info("task finished", status=status, error_code=error.code if error else None)
                await self.msg.ack()
            case Drop():
                stats.already_finished += 1
                log.warning("another run finished this task while this one ran; stopped it and published nothing")
                await self.msg.ack()
            case Retry(delay_s=delay_s, error=error):
                note = f"attempt {events.attempt} failed ({error.code}): {error.message}; retrying in {delay_s:g} s"
                await events.progress("retrying", note)
                await self.msg.nak(delay=delay_s)
                stats.retry_scheduled(events.task.kind, error.code)
                log.info("task will be retried", delay_s=delay_s, error_code=error.code)
            case Release():
                await self.msg.nak()
                stats.released += 1
                log.info("task handed back to the queue (shutdown)")

    def _dedup_covers(self, events: TaskEvents) -> bool:
        """Whether the stream's de-duplication alone keeps a second TaskFinished of this task out (see _settle)."""
        if events.replay_of is not None or self._looked_up_at is None:
            return False
        elapsed_s = asyncio.get_running_loop().time() - self._looked_up_at
        return elapsed_s < self._s.duplicate_window_s * DEDUP_TRUST

    async def _owner_elsewhere(self, task: TaskSubmitted, state: TaskState | None) -> str | None:
        """The run token of the first submit of this task id when that is another run's, else None."""
        if state is not None and not state.other_runs_submitted:
            return None  # every submit of this id is this run's
        first = await self._s.publisher.first_on_subject(
            names.EVENTS_STREAM, names.task_filter(task.task_id, names.EventType.SUBMITTED)
        )
        if first is None or first.seq == self.msg.metadata.sequence.stream:
            return None
        parsed = names.parse_task_subject(first.subject or "")
        first_run = parsed[0] if parsed else None
        return None if first_run == task.run_id else (first_run or names.NO_RUN)

    async def _finished_elsewhere(self, events: TaskEvents, last: RawStreamMsg | Unread | None = UNREAD) -> bool:
        """A final TaskFinished exists (``last``: the task's last one, when already read). For a submit replayed
        from the dead-letter stream, its own dead-lettered finish does not count: the operator asked for the task
        to run again."""
        if last is UNREAD:
            subject = names.task_subject(events.task.run_id, events.task.task_id, names.EventType.FINISHED)
            last = await self._s.publisher.last_on_subject(names.EVENTS_STREAM, subject)
        if last is None:
            return False
        if events.replay_of is None:
            return True
        try:
            return _finished_decoder.decode(last.data or b"").status != TaskStatus.DEAD_LETTERED
        except DecodeError:
            return True

    def _stop_when_finished_elsewhere(self, events: TaskEvents) -> contextlib.AbstractAsyncContextManager[None]:
        """While the task runs (from ``FinishedWatch.after_s`` on), a TaskFinished of another run (a redelivery that
        ran while this replica was frozen or cut off) stops this run: its outcome would be dropped anyway, and it
        must publish nothing."""
        ours = (events.replica_id, events.attempt)

        def on_finished(data: bytes) -> None:
            try:
                other = _finished_decoder.decode(data)
            except DecodeError:
                return
            if (other.replica_id, other.attempt) != ours and (
                events.replay_of is None or other.status != TaskStatus.DEAD_LETTERED
            ):
                self.interrupt(Interruption.FINISHED_ELSEWHERE, f"finished by {other.replica_id}")

        subject = names.task_subject(events.task.run_id, events.task.task_id, names.EventType.FINISHED)
        return self._s.finishes.watching(subject, on_finished)

    async def recheck_cancel(self) -> None:
        """After a reconnect: a cancel sent while this client was disconnected never reached the live
        subscription, so look it up (the replica calls this for every task it holds)."""
        if self.task_id is None or self._interrupt.done():
            return
        try:
            stored = await self._s.publisher.last_on_subject(names.CONTROL_STREAM, names.cancel_subject(self.task_id))
        except PublishAborted:
            return
        if stored is not None:
            self.interrupt(Interruption.CANCELLED, reason_of(stored.data))
