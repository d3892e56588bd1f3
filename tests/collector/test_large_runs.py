"""Runs of any size finish: every event and record stays bounded (20,000 tasks through the real collector)."""

from __future__ import annotations

import uuid

import msgspec
from nats.js import JetStreamContext

from handoff.client.client import HandoffClient
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import (
    MAX_RUN_SIZE,
    RUN_FINISHED_MAX_TASKS,
    ErrorCode,
    RunFinished,
    RunTask,
    TaskStatus,
)
from handoff.schemas.records import (
    RUN_SHARDS,
    FinalStatus,
    RunRecord,
    RunShard,
    run_shard_key,
)
from handoff.schemas.topology import Topology, TopologyParams
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import finished, publish, sealed
from tests.collector.probes import run_finished, run_record
from tests.support.nats import eventually

LONGEST_ID = "x" * 64  # the longest task id an Ident allows


async def test_a_run_of_20000_tasks_finishes_with_a_bounded_run_finished(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """RunFinished carries counts only (1.2 MB of task ids would exceed the message limit); the ids are paged."""
    run_id = f"big-{uuid.uuid4().hex[:8]}"
    size = 20_000
    ids = [uuid.uuid4().hex for _ in range(size)]
    failed = set(ids[:37])
    now = utcnow()
    wires = [
        finished(t, run_id=run_id, at=now, status=TaskStatus.FAILED if t in failed else TaskStatus.SUCCEEDED)
        for t in ids
    ]
    async with running_collector(js, batch=1024):
        await publish(js, [*wires, sealed(run_id, size)], concurrency=512)
        event = await eventually(lambda: run_finished(js, run_id), timeout_s=45, interval_s=0.5, what="RunFinished")
    assert event.size == size and not event.tasks_listed and event.tasks == []
    assert event.counts == {TaskStatus.SUCCEEDED: size - len(failed), TaskStatus.FAILED: len(failed)}
    record = await run_record(js, run_id)
    assert record is not None and record.published_at is not None and record.finished_count == size
    assert len(msgspec.json.encode(record)) < 16 * 1024  # counts per shard, no ids
    tasks = await HandoffClient(js._nc).run_tasks(run_id)
    assert [t.task_id for t in tasks] == sorted(ids)
    assert {t.task_id for t in tasks if t.status == TaskStatus.FAILED} == failed
    kv = await js.key_value(names.RUNS_BUCKET)
    shard_sizes = [len((await kv.get(run_shard_key(run_id, int(i)))).value or b"") for i in record.shard_counts]
    assert len(shard_sizes) == RUN_SHARDS
    largest = max(shard_sizes)
    assert largest < topology.streams[0].max_msg_bytes // 8


def test_the_largest_run_size_fits_the_message_limit() -> None:
    """run_size's limit and the message limit agree: a full RunFinished and a shard with three times its share fit."""
    limit = TopologyParams().max_msg_bytes
    listed = RunFinished(
        run_id=LONGEST_ID,
        finished_at=utcnow(),
        tasks=[
            RunTask(task_id=f"{i:064d}", status=TaskStatus.FAILED, error_code=ErrorCode.VALIDATION_FAILED)
            for i in range(RUN_FINISHED_MAX_TASKS)
        ],
        counts={s: MAX_RUN_SIZE for s in TaskStatus},
        size=RUN_FINISHED_MAX_TASKS,
    )
    assert len(encode(listed)) < limit // 4
    share = 3 * MAX_RUN_SIZE // RUN_SHARDS
    shard = RunShard(
        run_id=LONGEST_ID,
        shard=RUN_SHARDS - 1,
        finished={f"{i:064d}": FinalStatus(TaskStatus.FAILED, ErrorCode.VALIDATION_FAILED) for i in range(share)},
    )
    assert len(msgspec.json.encode(shard)) < limit
    record = RunRecord(
        run_id=LONGEST_ID,
        shard_counts={str(i): {s: MAX_RUN_SIZE for s in TaskStatus} for i in range(RUN_SHARDS)},
    )
    assert len(msgspec.json.encode(record)) < limit // 16
