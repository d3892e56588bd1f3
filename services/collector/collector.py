"""The collector: folds every lifecycle event into its task's record and joins runs, as one of any number of replicas.

Replicas share the durable pull consumer ``collector``; JetStream spreads the events over them and remembers
what was acknowledged, so a restarted replica carries on where the consumer stands and rebuilds nothing. Each
pull is handled as a batch: events are grouped by task, each task's group is folded into its record with one
compare-and-set write, then the runs those tasks belong to are updated the same way, and only then are the events
acknowledged. A failed write leaves its events unacknowledged (``nak`` with a delay); folding them again later is
harmless because folding is idempotent.

    async with Collector(js, settings=settings) as collector:
        await collector.run()          # until request_stop()
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from types import TracebackType

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from prometheus_client import Counter

from handoff.broker.connect import connection_of
from handoff.broker.pull import Puller
from handoff.broker.requests import Requests
from handoff.collector.dead_letters import reject
from handoff.collector.holding import HeldEvents
from handoff.collector.intake import Intake, Rejected, SealItem, TaskItem
from handoff.collector.run_end import publish_run_finished
from handoff.collector.runs import (
    RunDelta,
    by_shard,
    delta_of_task,
    fold_run,
    fold_shard,
    needs_report,
)
from handoff.collector.settings import CollectorSettings
from handoff.collector.store import ConflictsExhausted, RecordCorrupt, RecordStore
from handoff.common.broker_retry import BrokerUnavailable
from handoff.observability import metrics
from handoff.schemas import names
from handoff.schemas.events import TaskEvent, TaskStatus, TaskSubmitted
from handoff.schemas.fold import fold_task
from handoff.schemas.records import (
    RunRecord,
    RunShard,
    TaskRecord,
    run_record_decoder,
    run_shard_decoder,
    run_shard_key,
    task_record_decoder,
)

log = structlog.get_logger(__name__)

# What a record write or a publish can fail with that is retried later (the events are nak'ed and redelivered,
# up to the consumer's max_deliver) rather than crashing for. A publish first rides out transient broker errors
# in line (services.common.broker_retry) and raises BrokerUnavailable when its budget runs out.
_RETRYABLE = (BrokerUnavailable, nats.errors.Error, TimeoutError, RecordCorrupt, ConflictsExhausted)


@dataclass(slots=True)
class CollectorStats:
    """Counters for a metrics endpoint; also what the tests look at."""

    batches: int = 0
    events_folded: int = 0
    redeliveries: int = 0
    dead_lettered: int = 0
    rejected_submits: int = 0
    retried: int = 0
    runs_finished: int = 0
    task_writes: int = 0
    run_writes: int = 0
    cas_conflicts: int = 0


class Collector:
    def __init__(self, js: JetStreamContext, *, settings: CollectorSettings) -> None:
        self._js = js
        self._held = HeldEvents(settings.hold_s)  # at most a third of the consumer's ack wait (__aenter__)
        self.settings = settings
        self.stats = CollectorStats()
        self._intake = Intake(max_bytes=settings.common.topology.max_msg_bytes)
        self._stop = asyncio.Event()
        self._sub: Puller | None = None
        self._tasks: RecordStore[TaskRecord] | None = None
        self._runs: RecordStore[RunRecord] | None = None
        self._shards: RecordStore[RunShard] | None = None
        self._running = False
        self._requests: Requests | None = None

    @property
    def ready(self) -> bool:
        """Bound to its consumer and pulling."""
        return self._sub is not None and self._running and not self._stop.is_set()

    async def __aenter__(self) -> Collector:
        s = self.settings
        # Record writes through the connection's own reply subscription: nats-py's KV calls cost more per write.
        requests = self._requests = Requests(connection_of(self._js))

        def store[R: msgspec.Struct](kv: KeyValue, decoder: msgspec.json.Decoder[R], bucket: str) -> RecordStore[R]:
            return RecordStore(
                kv,
                decoder,
                cache_size=s.cache_records,
                attempts=s.cas_attempts,
                writes=requests,
                bucket=bucket,
                write_timeout_s=s.common.nats.publish_timeout_s,
            )

        self._tasks = store(await self._js.key_value(names.TASKS_BUCKET), task_record_decoder, names.TASKS_BUCKET)
        runs_kv = await self._js.key_value(names.RUNS_BUCKET)
        self._runs = store(runs_kv, run_record_decoder, names.RUNS_BUCKET)
        self._shards = store(runs_kv, run_shard_decoder, names.RUNS_BUCKET)
        # Fails with NotFoundError when the topology was never applied (binding alone would not notice).
        info = await self._js.consumer_info(names.EVENTS_STREAM, names.COLLECTOR_CONSUMER)
        # held events stay unacknowledged: keep the hold well inside the consumer's ack wait
        self._held.hold_s = min(s.hold_s, float(info.config.ack_wait or 30.0) / 3)
        # Plain pull requests (handoff.broker.pull): nats-py's fetch costs an asyncio task per message.
        puller = Puller(connection_of(self._js), stream=names.EVENTS_STREAM, consumer=names.COLLECTOR_CONSUMER)
        await puller.start()
        self._sub = puller
        log.info("collector bound", replica=s.replica_id, consumer=names.COLLECTOR_CONSUMER)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.request_stop()
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.stop()
            except (nats.errors.Error, TimeoutError) as err:  # a closed connection needs no unsubscribe
                log.debug("unsubscribe failed", error=str(err))
        if self._requests is not None:
            requests, self._requests = self._requests, None
            try:
                await requests.close()
            except (nats.errors.Error, TimeoutError) as err:
                log.debug("unsubscribe failed", error=str(err))

    def request_stop(self) -> None:
        """Stop pulling; ``run()`` returns once the batch in hand is folded and acknowledged."""
        self._stop.set()

    async def run(self) -> None:
        assert self._sub is not None, "use 'async with Collector(...)' before run()"
        self._running = True
        last = 0  # events in the last batch
        try:
            while not self._stop.is_set():
                msgs = await self._pull(last)
                last = len(msgs)
                if msgs or self._held.any_due():
                    await self.handle_batch(msgs)
            if self._held:
                await self.handle_batch([], flush=True)
        finally:
            self._running = False
            log.info("collector stopped", replica=self.settings.replica_id, **self._stats_fields())

    async def _pull(self, last: int) -> list[Msg]:
        """After a busy batch, linger briefly for more; when idle, wait for the first event.

        The linger (after a batch that was not full) lets events published close together land in one batch: one
        run record write for all of them. It lasts while events keep coming, up to ``linger_s``, and ends as soon
        as none came for ``LINGER_GAP_S``: the last events of a burst (a run's last finishes) are folded at once
        instead of after the whole linger.
        """
        assert self._sub is not None
        s = self.settings
        idle_wait_s = s.idle_wait_s
        due_in = self._held.first_due_in_s()
        if due_in is not None:  # wake up when the first held events are due
            idle_wait_s = min(idle_wait_s, max(due_in, MIN_WAIT_S))
        try:
            if last > 0 and s.batch > 1:
                if last < s.batch and s.linger_s > 0:
                    return await self._linger(s.batch, s.linger_s)
                return await self._sub.fetch(s.batch, timeout_s=max(s.linger_s, MIN_WAIT_S), no_wait=True)
            return await self._sub.fetch(1, timeout_s=idle_wait_s)
        except nats.errors.Error as err:  # disconnected: the client reconnects by itself
            log.warning("pull failed; retrying", error=str(err))
            await asyncio.sleep(min(1.0, s.idle_wait_s))
            return []

    async def _linger(self, batch: int, linger_s: float) -> list[Msg]:
        """Up to ``batch`` events: those arriving with no gap of ``LINGER_GAP_S``, for ``linger_s`` at most."""
        assert self._sub is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + linger_s
        got: list[Msg] = []
        while len(got) < batch:
            left = deadline - loop.time()
            if left < MIN_WAIT_S:
                break
            more = await self._sub.fetch(batch - len(got), timeout_s=min(LINGER_GAP_S, left))
            if not more:
                break
            got += more
        return got

    # ---- one batch ----------------------------------------------------------------------------------
    async def handle_batch(self, msgs: list[Msg], *, flush: bool = False) -> None:
        """Fold ``msgs`` (with the held events that are due, or all of them with ``flush``) and settle them."""
        self.stats.batches += 1
        by_task: dict[str, list[TaskItem]] = defaultdict(list)
        seals: dict[str, list[SealItem]] = defaultdict(list)
        rejected: list[Rejected] = []
        for msg in msgs:
            if msg.metadata.num_delivered > 1:
                self.stats.redeliveries += 1
            item = self._intake.classify(msg)
            match item:
                case TaskItem():
                    by_task[item.event.task_id].append(item)
                case SealItem():
                    seals[item.event.run_id].append(item)
                case Rejected():
                    rejected.append(item)
        await asyncio.gather(*(self._reject(r) for r in rejected))
        self._held.hold_back(by_task, flush=flush)  # see handoff.collector.holding

        folded = await asyncio.gather(*(self._fold_task(task_id, items) for task_id, items in by_task.items()))
        deltas: dict[str, RunDelta] = {}
        waiting: dict[str, list[Msg]] = defaultdict(list)  # run_id -> messages acked once the run is written
        done: list[Msg] = []
        failed: list[Msg] = []
        for items, record in zip(by_task.values(), folded, strict=True):
            group = [i.msg for i in items]
            if record is None:
                failed += group
                continue
            delta = delta_of_task(record)
            if delta is None or record.run_id is None:
                done += group
                continue
            deltas[record.run_id] = deltas.get(record.run_id, RunDelta()).merge(delta)
            waiting[record.run_id] += group
        for run_id, sealed in seals.items():
            sizes = RunDelta(sealed_sizes=frozenset(i.event.size for i in sealed))
            deltas[run_id] = deltas.get(run_id, RunDelta()).merge(sizes)
            waiting[run_id] += [i.msg for i in sealed]
        run_ids = list(deltas)
        run_ok = await asyncio.gather(*(self._fold_run(run_id, deltas[run_id]) for run_id in run_ids))
        for run_id, ok in zip(run_ids, run_ok, strict=True):
            (done if ok else failed).extend(waiting[run_id])
        # Acks and naks are core publishes without a reply: one after the other, they only fill the connection's
        # write buffer (flushed once), which costs far less than a task per message.
        for msg in done:
            await msg.ack()
        if failed:
            self.stats.retried += len(failed)
            for msg in failed:
                await msg.nak(delay=self.settings.retry_delay_s)
        self.stats.events_folded += sum(len(v) for v in by_task.values()) + sum(len(v) for v in seals.values())
        self._sync_store_stats()

    async def _reject(self, item: Rejected) -> None:
        try:
            await reject(self._js, item, publish_timeout_s=self.settings.common.nats.publish_timeout_s)
        except _RETRYABLE as err:
            log.warning("dead-lettering failed; will retry", subject=item.msg.subject, error=str(err))
            self.stats.retried += 1
            await item.msg.nak(delay=self.settings.retry_delay_s)
            return
        if item.is_submit:
            self.stats.rejected_submits += 1
        else:
            self.stats.dead_lettered += 1

    async def _fold_task(self, task_id: str, items: list[TaskItem]) -> TaskRecord | None:
        assert self._tasks is not None
        # No structlog context binding here: this runs once per task per batch, and binding costs more than the
        # fold itself. The two log lines name the task instead.
        try:
            first_event = any(isinstance(i.event, TaskSubmitted) for i in items)  # usually: no record yet
            record, written = await self._tasks.update(task_id, lambda r: _fold_all(r, items), probably_new=first_event)
        except _RETRYABLE as err:
            log.warning("task record not written; events will be retried", task_id=task_id, error=str(err))
            return None
        for item in items:
            _folded_counter(item.event).inc()
        if written and record.final:
            log.debug("task record final", task_id=task_id, state=record.state.value, run_id=record.run_id)
        return record

    async def _fold_run(self, run_id: str, delta: RunDelta) -> bool:
        assert self._runs is not None
        with structlog.contextvars.bound_contextvars(run_id=run_id):
            try:
                delta = await self._fold_shards(run_id, delta)
                record, written = await self._runs.update(run_id, lambda r: fold_run(r, run_id, delta))
                if needs_report(record):
                    await self._publish_run_finished(record, delta)
                elif record.published_at is not None and written:
                    log.warning("run changed after it was reported finished", finished=record.finished_count)
                return True
            except _RETRYABLE as err:
                log.warning("run record not written; events will be retried", error=str(err))
                return False

    async def _fold_shards(self, run_id: str, delta: RunDelta) -> RunDelta:
        """Write the batch's finished tasks into their shard records; ``delta`` with those shards' counts."""
        assert self._shards is not None
        shards = self._shards
        groups = by_shard(delta.finished)

        async def one(index: int) -> tuple[str, dict[TaskStatus, int]]:
            shard, _ = await shards.update(
                run_shard_key(run_id, index), lambda s: fold_shard(s, run_id, index, groups[index])
            )
            return str(index), shard.counts()

        counts = dict(await asyncio.gather(*(one(index) for index in groups)))
        return delta.merge(RunDelta(shard_counts=counts)) if counts else delta

    async def _publish_run_finished(self, record: RunRecord, delta: RunDelta) -> None:
        assert self._runs is not None and self._shards is not None
        timeout_s = self.settings.common.nats.publish_timeout_s
        if await publish_run_finished(self._js, self._runs, self._shards, record, delta, publish_timeout_s=timeout_s):
            self.stats.runs_finished += 1
            metrics.RUNS_FINISHED.inc()

    def _sync_store_stats(self) -> None:
        assert self._tasks is not None and self._runs is not None and self._shards is not None
        conflicts = self._tasks.conflicts + self._runs.conflicts + self._shards.conflicts
        if conflicts > self.stats.cas_conflicts:
            metrics.RECORD_CONFLICTS.inc(conflicts - self.stats.cas_conflicts)
        self.stats.cas_conflicts = conflicts
        self.stats.task_writes = self._tasks.writes
        self.stats.run_writes = self._runs.writes + self._shards.writes

    def _stats_fields(self) -> dict[str, int]:
        return {k: getattr(self.stats, k) for k in self.stats.__dataclass_fields__}


MIN_WAIT_S = 0.005
"""The shortest pull timeout (a pull needs some time to be answered)."""
LINGER_GAP_S = MIN_WAIT_S
"""A linger ends when no event came for this long."""


_FOLDED: dict[type[TaskEvent], Counter] = {}


def _folded_counter(event: TaskEvent) -> Counter:
    """The events-folded counter of an event's type (the labelled child looked up once per type)."""
    kind = type(event)
    child = _FOLDED.get(kind)
    if child is None:
        child = _FOLDED[kind] = metrics.EVENTS_FOLDED.labels(type=kind.__struct_config__.tag)
    return child


def _fold_all(record: TaskRecord | None, items: list[TaskItem]) -> TaskRecord:
    for item in items:
        record = fold_task(record, item.event, run_id=item.run_id)
    assert record is not None, "a task group holds at least one event"
    return record
