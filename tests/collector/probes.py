"""Reading what the collector produced, straight from the server."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NotFoundError

from handoff.schemas import names
from handoff.schemas.codec import Decoder
from handoff.schemas.events import DeadLettered, RunFinished
from handoff.schemas.records import RunRecord, TaskRecord, run_record_decoder, task_record_decoder

_run_finished: Decoder[RunFinished] = Decoder(RunFinished)
_dead_letter: Decoder[DeadLettered] = Decoder(DeadLettered)


async def task_record(js: JetStreamContext, task_id: str) -> TaskRecord | None:
    kv = await js.key_value(names.TASKS_BUCKET)
    try:
        entry = await kv.get(task_id)
    except KeyNotFoundError:
        return None
    return task_record_decoder.decode(entry.value or b"")


async def task_revision(js: JetStreamContext, task_id: str) -> int:
    kv = await js.key_value(names.TASKS_BUCKET)
    entry = await kv.get(task_id)
    return entry.revision or 0


async def run_record(js: JetStreamContext, run_id: str) -> RunRecord | None:
    kv = await js.key_value(names.RUNS_BUCKET)
    try:
        entry = await kv.get(run_id)
    except KeyNotFoundError:
        return None
    return run_record_decoder.decode(entry.value or b"")


async def run_finished_counts(js: JetStreamContext) -> dict[str, int]:
    """How many RunFinished messages the stream holds per run id."""
    info = await js.stream_info(names.EVENTS_STREAM, subjects_filter=names.RUN_FINISHED_FILTER)
    return {subject.split(".")[2]: n for subject, n in (info.state.subjects or {}).items()}


async def run_finished(js: JetStreamContext, run_id: str) -> RunFinished | None:
    try:
        msg = await js.get_last_msg(names.EVENTS_STREAM, names.run_finished_subject(run_id))
    except NotFoundError:
        return None
    return _run_finished.decode(msg.data or b"")


async def dead_letters(js: JetStreamContext, origin: str = "collector") -> list[DeadLettered]:
    info = await js.stream_info(names.DLQ_STREAM, subjects_filter=names.dlq_subject(origin))
    count = sum((info.state.subjects or {}).values())
    if not count:
        return []
    sub = await js.subscribe(names.dlq_subject(origin), stream=names.DLQ_STREAM, ordered_consumer=True)
    try:
        letters = []
        for _ in range(count):
            msg = await sub.next_msg(timeout=5)
            letters.append(_dead_letter.decode(msg.data))
        return letters
    finally:
        await sub.unsubscribe()


async def collector_caught_up(js: JetStreamContext) -> bool:
    """True when the collector consumer has nothing left to deliver and nothing waiting for an ack."""
    info = await js.consumer_info(names.EVENTS_STREAM, names.COLLECTOR_CONSUMER)
    return info.num_pending == 0 and info.num_ack_pending == 0
