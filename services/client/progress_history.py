"""What a running task reported before someone started following it: the progress events of its current attempt,
read back from the events stream as ``handoff watch --from start`` replays them, for that one task's subject.

One direct get finds the attempt's TaskStarted (the stream holds it before the attempt's progress), one batch
direct get reads the progress subject from there on (``handoff.broker.batch_get.messages_from``): no consumer is
made, and the read is bounded by ``PROGRESS_READ_MESSAGES`` and ``PROGRESS_READ_BYTES``. When the stream no longer
holds the attempt's first progress event (its limits removed it) nothing is returned: a part that looks whole
would be false.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from handoff.broker.batch_get import messages_from
from handoff.broker.requests import Requests
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import TaskProgress, TaskStarted
from handoff.schemas.records import TaskRecord

log = structlog.get_logger(__name__)

_progress: Decoder[TaskProgress] = Decoder(TaskProgress)
_started: Decoder[TaskStarted] = Decoder(TaskStarted)

PROGRESS_READ_MESSAGES = 500
"""At most this many progress events are read for one task (agent steps included; a round has tens of them)."""
PROGRESS_READ_BYTES = 1024 * 1024
"""... and about this many bytes of them."""


@dataclass(frozen=True, slots=True)
class EarlierProgress:
    events: list[TaskProgress]
    """The attempt's progress events before the record's last one, in order, from its first (seq 0)."""
    later_unread: int
    """Progress events between the last one read and the record's last one that the bounded read did not reach."""


async def earlier_progress(
    requests: Requests,
    record: TaskRecord,
    *,
    max_messages: int = PROGRESS_READ_MESSAGES,
    max_bytes: int = PROGRESS_READ_BYTES,
) -> EarlierProgress | None:
    """The progress of ``record``'s attempt before its ``last_progress``; None when the record has no progress, or
    the stream no longer holds the attempt's start or first progress event. Not bounded in time: the caller bounds
    it (``NoRespondersError`` when the stream allows no direct gets; ``BatchGetUnsupported`` from a server without
    batch gets)."""
    last = record.last_progress
    if last is None:
        return None
    if last.seq == 0:
        return EarlierProgress([], 0)  # its first progress is its last: nothing came before
    stream = names.EVENTS_STREAM
    started_msg = await requests.last_on_subject(
        stream, names.task_subject(record.run_id, record.task_id, names.EventType.STARTED)
    )
    if started_msg is None:
        return None
    try:
        started = _started.decode(started_msg.data or b"")
    except DecodeError as exc:
        log.warning("undecodable start event: earlier progress not read", subject=started_msg.subject,
                    reason=exc.reason.value)  # fmt: skip
        return None
    if started.attempt != last.attempt:  # a newer attempt started since the record was read
        return None
    subject = names.task_subject(record.run_id, record.task_id, names.EventType.PROGRESS)
    batch = await messages_from(
        requests, stream, subject, start_seq=started_msg.seq or 1, batch=max_messages, max_bytes=max_bytes
    )
    seen: dict[int, TaskProgress] = {}
    reached = False
    for msg in batch.messages:
        try:
            event = _progress.decode(msg.data or b"")
        except DecodeError as exc:
            log.warning("undecodable progress event skipped", subject=msg.subject, reason=exc.reason.value)
            continue
        if event.attempt != last.attempt:
            continue
        if event.seq >= last.seq:
            reached = True
        else:
            seen.setdefault(event.seq, event)
    events = [seen[seq] for seq in sorted(seen)]
    if not events or events[0].seq != 0:
        return None  # the first ones are gone (or were never stored): what is left is not "what happened so far"
    unread = 0 if reached or batch.pending == 0 else last.seq - 1 - (events[-1].seq if events else -1)
    return EarlierProgress(events, max(unread, 0))
