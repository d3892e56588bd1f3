"""Folding lifecycle events into records: pure functions, order-independent and idempotent.

``fold_task(record, event)`` returns the record that knows about one more event. Whatever order the events of a
task arrive in, and however often each arrives, the final record is the same: each piece of a record is chosen
by a rule that does not depend on arrival order (the earliest submit, the earliest start of each attempt, the
highest progress report, the set of progress seqs), and derived fields (state, timings, attempt) are recomputed
from those pieces every time. The one exception is a *different* second ``TaskFinished`` for a task, which
JetStream de-duplication (``finished_msg_id``) normally prevents: the first one folded wins, so a result a client
has already seen never changes, and ``finish_conflict`` records that it happened. And a task id belongs to one
run: once a record knows its run (from the first event folded, in stream order the owner's submit), events of
the same task id under another run are not folded (the generators do not run such a submit either).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from handoff.schemas.events import (
    TaskEvent,
    TaskFinished,
    TaskProgress,
    TaskStarted,
    TaskStatus,
    TaskSubmitted,
    Timings,
)
from handoff.schemas.records import AttemptSeen, ProgressNote, TaskRecord, TaskState

MAX_PROGRESS_SEQS = 1024  # per attempt; beyond that progress_count stops growing (last_progress still moves)

replace = msgspec.structs.replace


def new_record(task_id: str, run_id: str | None) -> TaskRecord:
    return TaskRecord(task_id=task_id, state=TaskState.QUEUED, run_id=run_id)


def fold_task(record: TaskRecord | None, event: TaskEvent, *, run_id: str | None = None) -> TaskRecord:
    """``record`` with ``event`` folded in. ``run_id`` is the run named by the event's subject, if any."""
    event_run = run_id or event.run_id
    if record is not None and (record.run_id is not None or record.submitted) and event_run != record.run_id:
        return record  # another run's event for a task id this record's run owns (see services.client.identity)
    base = record or new_record(event.task_id, event_run)
    if base.run_id is None and (run_id or event.run_id):
        base = replace(base, run_id=run_id or event.run_id)
    match event:
        case TaskSubmitted():
            folded = _with_submit(base, event)
        case TaskStarted():
            folded = _with_attempt(base, event.attempt, replica_id=event.replica_id, started_at=event.started_at)
        case TaskProgress():
            folded = _with_progress(base, event)
        case TaskFinished():
            folded = _with_finish(base, event)
    return _derive(folded)


def _with_submit(record: TaskRecord, event: TaskSubmitted) -> TaskRecord:
    if record.submitted and record.submitted_at is not None and record.submitted_at <= event.submitted_at:
        return record  # the earliest submit of a task id is the one that counts
    return replace(
        record,
        submitted=True,
        submitted_at=event.submitted_at,
        kind=event.kind,
        run_size=event.run_size,
        priority=event.priority,
        deadline=event.deadline,
        max_attempts=event.max_attempts,
        submitter=event.submitter,
        labels=dict(event.labels),
    )


def _with_attempt(
    record: TaskRecord,
    attempt: int,
    *,
    replica_id: str = "",
    started_at: datetime | None = None,
    seq: int | None = None,
) -> TaskRecord:
    attempts = {a.attempt: a for a in record.attempts}
    seen = attempts.get(attempt, AttemptSeen(attempt=attempt))
    if started_at is not None and (seen.started_at is None or started_at < seen.started_at):
        seen = replace(seen, started_at=started_at, replica_id=replica_id or seen.replica_id)
    elif replica_id and not seen.replica_id:
        seen = replace(seen, replica_id=replica_id)
    if seq is not None and seq not in seen.progress_seqs and len(seen.progress_seqs) < MAX_PROGRESS_SEQS:
        seen = replace(seen, progress_seqs=tuple(sorted((*seen.progress_seqs, seq))))
    attempts[attempt] = seen
    return replace(record, attempts=tuple(attempts[k] for k in sorted(attempts)))


def _with_progress(record: TaskRecord, event: TaskProgress) -> TaskRecord:
    record = _with_attempt(record, event.attempt, seq=event.seq)
    note = ProgressNote(attempt=event.attempt, seq=event.seq, stage=event.stage, at=event.at, message=event.message)
    last = record.last_progress
    if last is None or _progress_key(note) > _progress_key(last):
        record = replace(record, last_progress=note)
    return record


def _progress_key(note: ProgressNote) -> tuple[int, int, datetime, str, str]:
    return (note.attempt, note.seq, note.at, note.stage, note.message)


def _with_finish(record: TaskRecord, event: TaskFinished) -> TaskRecord:
    dead = TaskStatus.DEAD_LETTERED
    if record.finished is not None and record.finished.status == dead and event.status != dead:
        # a replay from the dead-letter stream ran the task again: its finish supersedes the dead letter
        # (in whichever order the two arrive, the record ends with the replayed finish)
        return replace(record, finished=event, finish_conflict=False)
    if record.finished is not None and record.finished.status != dead and event.status == dead:
        return record
    if record.finished is None:
        record = replace(record, finished=event)
        if not record.kind and event.result is not None:
            record = replace(record, kind=str(type(event.result).__struct_config__.tag))
        return record
    if record.finished != event:
        return replace(record, finish_conflict=True)
    return record


def _derive(record: TaskRecord) -> TaskRecord:
    """Recompute the fields that follow from the folded pieces."""
    finished = record.finished
    attempt, replica_id = 0, ""
    for seen in record.attempts:  # sorted by attempt
        attempt = seen.attempt
        replica_id = seen.replica_id or replica_id
    if finished is not None:
        # the run that finished the task names it, even when a later attempt (a redelivery of a frozen replica's
        # work) started meanwhile and was stopped
        attempt = finished.attempt
        replica_id = finished.replica_id or {a.attempt: a.replica_id for a in record.attempts}.get(attempt, "")
    starts = [a.started_at for a in record.attempts if a.started_at is not None]
    if finished is not None:
        state = TaskState(finished.status.value)
    elif record.attempts:
        state = TaskState.RUNNING
    else:
        state = TaskState.QUEUED
    return replace(
        record,
        state=state,
        attempt=attempt,
        replica_id=replica_id,
        started_at=min(starts) if starts else None,
        progress_count=sum(len(a.progress_seqs) for a in record.attempts),
        finished_at=finished.finished_at if finished is not None else None,
        timings=_timings(record, min(starts) if starts else None),
    )


def _timings(record: TaskRecord, first_start: datetime | None) -> Timings:
    finished = record.finished
    reported = finished.timings if finished is not None else Timings()
    submitted_at = record.submitted_at or reported.submitted_at
    started_at = first_start or reported.started_at
    finished_at = finished.finished_at if finished is not None else None
    run_start = reported.started_at
    if finished is not None:
        by_attempt = {a.attempt: a.started_at for a in record.attempts if a.started_at is not None}
        run_start = by_attempt.get(finished.attempt) or (max(by_attempt.values()) if by_attempt else run_start)
    return Timings(
        submitted_at=submitted_at,
        started_at=started_at,
        finished_at=finished_at,
        queue_wait_s=_seconds(submitted_at, started_at, reported.queue_wait_s),
        run_s=_seconds(run_start, finished_at, reported.run_s),
        total_s=_seconds(submitted_at, finished_at, reported.total_s),
    )


def _seconds(start: datetime | None, end: datetime | None, fallback: float | None) -> float | None:
    if start is None or end is None:
        return fallback
    return max(0.0, (end - start).total_seconds())
