"""A run's end: its RunFinished published once, then marked in the run record.

The event lists every task's final status when the run is small enough (read from the run's shard records);
its message id carries the record's revision, so a replica that publishes it again after a crash is told it is a
duplicate, and the record is marked published either way.
"""

from __future__ import annotations

import structlog
from nats.js import JetStreamContext

from handoff.collector.runs import RunDelta, fold_run, mark_published, run_finished_event
from handoff.collector.store import RecordStore
from handoff.common.broker_retry import retry_broker_call
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import RUN_FINISHED_MAX_TASKS
from handoff.schemas.records import RunRecord, RunShard, run_shard_key

log = structlog.get_logger(__name__)


async def read_shards(shards: RecordStore[RunShard], record: RunRecord) -> list[RunShard]:
    """The run's shard records that exist, in shard order."""
    found = []
    for index in sorted(record.shard_counts, key=int):
        shard, _ = await shards.read(run_shard_key(record.run_id, int(index)))
        if shard is not None:
            found.append(shard)
    return found


async def publish_run_finished(
    js: JetStreamContext,
    runs: RecordStore[RunRecord],
    shards: RecordStore[RunShard],
    record: RunRecord,
    delta: RunDelta,
    *,
    publish_timeout_s: float,
) -> bool:
    """Publish the run's RunFinished and mark the record; True when this call stored the event (not a duplicate)."""
    now = utcnow()
    listed = record.finished_count <= RUN_FINISHED_MAX_TASKS
    event = run_finished_event(record, await read_shards(shards, record) if listed else [], now)
    if record.expected_size is not None and event.size != record.expected_size:
        log.warning("run finished with more tasks than its declared size", size=record.expected_size)
    data = encode(event)
    ack = await retry_broker_call(
        lambda: js.publish(
            names.run_finished_subject(record.run_id),
            data,
            headers={names.Header.MSG_ID: names.run_finished_msg_id(record.run_id, record.revision)},
            timeout=publish_timeout_s,
        ),
        what=f"publish the end of run {record.run_id}",
        timeout_s=publish_timeout_s,
    )
    revision = record.revision
    await runs.update(record.run_id, lambda r: mark_published(fold_run(r, record.run_id, delta), now, revision))
    if not ack.duplicate:
        log.info("run finished", tasks=event.size, counts={k.value: v for k, v in event.counts.items()})
    return not ack.duplicate
