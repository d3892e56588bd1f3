"""One-shot reads of where tasks stand: the collector's record first, then the events stream itself.

The events stream is the source of truth and the record is derived from it, so a task whose events are in the
stream but not yet in a record (the collector is catching up, or down) is still known, and its finish is read
straight from the stream. A task with neither a record nor any event is unknown: never submitted here, or
expired (records and events share the result retention).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from handoff.broker.batch_get import BatchGetUnsupported
from handoff.broker.requests import Requests
from handoff.client import progress_history
from handoff.client.errors import UnknownTaskError
from handoff.client.retry import retry_transient
from handoff.common.broker_retry import TRANSIENT_BROKER_ERRORS
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import RunFinished, TaskEvent, TaskFinished, TaskSubmitted
from handoff.schemas.fold import fold_task
from handoff.schemas.records import RunRecord, TaskRecord, run_record_decoder, task_record_decoder

log = structlog.get_logger(__name__)

_finished: Decoder[TaskFinished] = Decoder(TaskFinished)
_submitted: Decoder[TaskSubmitted] = Decoder(TaskSubmitted)
_run_finished: Decoder[RunFinished] = Decoder(RunFinished)
_any_task_event: Decoder[TaskEvent] = Decoder(TaskEvent)

EARLIER_PROGRESS_TIMEOUT_S = 5.0
"""How long a wait that starts late tries to read a running task's earlier progress (display only)."""
NOT_READ: tuple[type[Exception], ...] = (BatchGetUnsupported, *TRANSIENT_BROKER_ERRORS)
"""... and what ends that try with nothing shown: a server without batch gets, a broker not answering in time."""

REMEMBERED_SUBMITS = 10_000
"""How many of its own submitted task ids a client remembers, to wait for their results without a look-up."""


class Lookups:
    def __init__(
        self, js: JetStreamContext, *, concurrency: int, give_up_after_s: float, requests: Requests | None = None
    ) -> None:
        self._js = js
        self._requests = requests  # batch direct gets (earlier progress); None: not read
        self._give_up_after_s = give_up_after_s
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks_kv: KeyValue | None = None
        self._runs_kv: KeyValue | None = None
        self._direct = True  # Handoff's events stream allows direct gets; set False once one finds no responder
        self._submitted: OrderedDict[str, float] = OrderedDict()  # task ids this client submitted -> when
        self._retention_s: float | None = None  # the events stream's max age (0: forever), read once

    def submitted(self, task_id: str) -> None:
        """Note that this client's submit of ``task_id`` was stored (the task is known without a look-up)."""
        self._submitted[task_id] = time.monotonic()
        self._submitted.move_to_end(task_id)
        while len(self._submitted) > REMEMBERED_SUBMITS:
            self._submitted.popitem(last=False)

    async def submitted_here_recently(self, task_id: str) -> bool:
        """This client stored the task's submit less than half the events' retention ago: its events are there.

        Saves the "is it known at all?" look-up for the natural loop (submit, then wait for that result).
        """
        at = self._submitted.get(task_id)
        if at is None:
            return False
        if self._retention_s is None:
            info = await self._rpc(lambda: self._js.stream_info(names.EVENTS_STREAM), "read the events' retention")
            self._retention_s = float(info.config.max_age or 0.0)
        return self._retention_s == 0.0 or time.monotonic() - at < self._retention_s / 2

    async def task_record(self, task_id: str) -> TaskRecord | None:
        names.checked_id(task_id)  # a KV key: a wildcard would read another task's record
        if self._tasks_kv is None:
            self._tasks_kv = await self._rpc(lambda: self._js.key_value(names.TASKS_BUCKET), "open the task bucket")
        kv = self._tasks_kv
        try:
            entry = await self._rpc(lambda: kv.get(task_id), f"read the record of {task_id}")
        except KeyNotFoundError:
            return None
        return task_record_decoder.decode(entry.value or b"")

    async def run_record(self, run_id: str) -> RunRecord | None:
        names.checked_id(run_id, "run id")
        if self._runs_kv is None:
            self._runs_kv = await self._rpc(lambda: self._js.key_value(names.RUNS_BUCKET), "open the run bucket")
        kv = self._runs_kv
        try:
            entry = await self._rpc(lambda: kv.get(run_id), f"read the record of run {run_id}")
        except KeyNotFoundError:
            return None
        return run_record_decoder.decode(entry.value or b"")

    async def finished_in_stream(self, task_id: str) -> TaskFinished | None:
        return await self._last(names.task_filter(task_id, names.EventType.FINISHED), _finished)

    async def finished_of_run(self, task_id: str, run_id: str | None) -> TaskFinished | None:
        """The finish of ``task_id`` under ``run_id`` (not under another run that reused the id)."""
        return await self._last(names.task_subject(run_id, task_id, names.EventType.FINISHED), _finished)

    async def submitted_in_stream(self, task_id: str) -> TaskSubmitted | None:
        return await self._last(names.task_filter(task_id, names.EventType.SUBMITTED), _submitted)

    async def run_finished(self, run_id: str) -> RunFinished | None:
        return await self._last(names.run_finished_subject(run_id), _run_finished)

    async def any_event(self, subject_filter: str) -> bool:
        try:
            await self._rpc(lambda: self._get_last(subject_filter), subject_filter)
        except NotFoundError:
            return False
        return True

    async def final(self, task_id: str) -> TaskFinished | None:
        """The task's final event if it has finished, None if it is still going; ``UnknownTaskError`` if unknown.

        The stream first: its finish (a direct get), then whether it is known at all: submitted by this client
        recently, else any event of it (a second direct get); the record only for a task whose events are gone
        (records and events share the retention, so that is rare).
        """
        async with self._limit:
            finished = await self.finished_in_stream(task_id)
            if finished is not None:
                return finished
            if await self.submitted_here_recently(task_id) or await self.any_event(names.task_filter(task_id)):
                return None
            record = await self.task_record(task_id)
            if record is None:
                raise UnknownTaskError([task_id])
            return record.finished

    async def finals(self, task_ids: Iterable[str]) -> dict[str, TaskFinished | None]:
        """``final`` of many tasks at once; one ``UnknownTaskError`` naming every unknown id."""
        ids = list(dict.fromkeys(task_ids))
        outcomes = await asyncio.gather(*(self.final(t) for t in ids), return_exceptions=True)
        unknown = [t for t, o in zip(ids, outcomes, strict=True) if isinstance(o, UnknownTaskError)]
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, UnknownTaskError):
                raise outcome
        if unknown:
            raise UnknownTaskError(unknown)
        return {t: o for t, o in zip(ids, outcomes, strict=True) if not isinstance(o, BaseException)}

    async def status(self, task_id: str) -> TaskRecord:
        """The collector's record; while the collector has not folded the task yet, one built from the stream."""
        record = await self.task_record(task_id)
        if record is not None:
            return record
        last_event = self._last(names.task_filter(task_id), _any_task_event)
        found = await asyncio.gather(self.submitted_in_stream(task_id), last_event, self.finished_in_stream(task_id))
        for event in found:
            if event is not None:
                record = fold_task(record, event)
        if record is None:
            raise UnknownTaskError([task_id])
        return record

    async def earlier_progress(self, record: TaskRecord) -> progress_history.EarlierProgress | None:
        """What a running task reported before its record's last progress (``handoff.client.progress_history``);
        None when the stream no longer holds it whole or cannot be read that way (no direct or batch gets). Display
        only: tried once, for at most ``EARLIER_PROGRESS_TIMEOUT_S``; a broker that does not answer gives None (the
        record's last progress is then what is shown)."""
        requests = self._requests
        if requests is None or not self._direct:
            return None
        try:
            async with asyncio.timeout(EARLIER_PROGRESS_TIMEOUT_S):
                return await progress_history.earlier_progress(requests, record)
        except NOT_READ as exc:
            log.info("earlier progress not read", task_id=record.task_id, error=f"{type(exc).__name__}: {exc}")
            return None

    async def _last[T](self, subject: str, decoder: Decoder[T]) -> T | None:
        try:
            msg = await self._rpc(lambda: self._get_last(subject), subject)
        except NotFoundError:
            return None
        try:
            return decoder.decode(msg.data or b"")
        except DecodeError as exc:
            log.warning("undecodable event in the stream ignored", subject=msg.subject, reason=exc.reason.value)
            return None

    async def _get_last(self, subject: str) -> RawStreamMsg:
        """The last message on ``subject`` (wildcards allowed): a direct get, the API on a stream without them."""
        if self._direct:
            try:
                return await self._js.get_last_msg(names.EVENTS_STREAM, subject, direct=True)
            except nats.errors.NoRespondersError:
                pass  # a restarting server, or a stream without direct gets: the API tells which
        msg = await self._js.get_last_msg(names.EVENTS_STREAM, subject)
        self._direct = False  # the API answered where the direct get had no responder
        return msg

    async def _rpc[T](self, call: Callable[[], Awaitable[T]], what: str) -> T:
        return await retry_transient(call, what=what, give_up_after_s=self._give_up_after_s)
