"""Playing the generator's part: build a task's lifecycle events and publish them to the real server.

Publishing the events a generator would publish is not a broker mock: the collector reads them from JetStream
exactly as it would in production.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from nats.js import JetStreamContext

from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import (
    ErrorCode,
    Event,
    RunSealed,
    Sleep,
    SleepResult,
    TaskError,
    TaskFinished,
    TaskProgress,
    TaskStarted,
    TaskStatus,
    TaskSubmitted,
)


@dataclass(frozen=True, slots=True)
class Wire:
    """One event with the subject and message id a real publisher would use."""

    subject: str
    event: Event
    msg_id: str | None


def submitted(task_id: str, *, run_id: str | None = None, run_size: int | None = None, at: datetime) -> Wire:
    event = TaskSubmitted(
        task_id=task_id,
        payload=Sleep(duration_s=0),
        submitted_at=at,
        run_id=run_id,
        run_size=run_size,
        labels={"module": f"{task_id}.py"},
    )
    return Wire(names.task_subject(run_id, task_id, names.EventType.SUBMITTED), event, names.submit_msg_id(task_id))


def started(task_id: str, *, run_id: str | None = None, attempt: int = 1, replica: str = "gen-1", at: datetime) -> Wire:
    event = TaskStarted(task_id=task_id, attempt=attempt, replica_id=replica, started_at=at, run_id=run_id)
    return Wire(
        names.task_subject(run_id, task_id, names.EventType.STARTED), event, names.started_msg_id(task_id, attempt)
    )


def progress(task_id: str, *, run_id: str | None = None, attempt: int = 1, seq: int, at: datetime) -> Wire:
    event = TaskProgress(task_id=task_id, attempt=attempt, seq=seq, stage=f"stage-{seq}", at=at, run_id=run_id)
    return Wire(
        names.task_subject(run_id, task_id, names.EventType.PROGRESS),
        event,
        names.progress_msg_id(task_id, attempt, seq),
    )


def finished(
    task_id: str,
    *,
    run_id: str | None = None,
    status: TaskStatus = TaskStatus.SUCCEEDED,
    attempt: int = 1,
    replica: str = "gen-1",
    at: datetime,
) -> Wire:
    ok = status == TaskStatus.SUCCEEDED
    event = TaskFinished(
        task_id=task_id,
        status=status,
        finished_at=at,
        attempt=attempt,
        replica_id=replica,
        run_id=run_id,
        result=SleepResult(slept_s=0.5) if ok else None,
        error=None if ok else TaskError(code=ErrorCode.LLM_UNAVAILABLE, message="no model answered"),
    )
    return Wire(names.task_subject(run_id, task_id, names.EventType.FINISHED), event, names.finished_msg_id(task_id))


def sealed(run_id: str, size: int) -> Wire:
    return Wire(names.run_sealed_subject(run_id), RunSealed(run_id=run_id, size=size, sealed_at=utcnow()), None)


def lifecycle(
    task_id: str,
    *,
    run_id: str | None = None,
    run_size: int | None = None,
    status: TaskStatus = TaskStatus.SUCCEEDED,
    t0: datetime | None = None,
    progress_reports: int = 2,
) -> list[Wire]:
    """Submit, start, progress reports and finish of one task, 1 s apart from ``t0``."""
    t0 = t0 or utcnow()
    s = timedelta(seconds=1)
    return [
        submitted(task_id, run_id=run_id, run_size=run_size, at=t0),
        started(task_id, run_id=run_id, at=t0 + 2 * s),
        *(progress(task_id, run_id=run_id, seq=i, at=t0 + (3 + i) * s) for i in range(progress_reports)),
        finished(task_id, run_id=run_id, status=status, at=t0 + (3 + progress_reports) * s),
    ]


def shuffled_with_duplicates(wires: Sequence[Wire], *, seed: int, duplicate_share: float = 0.3) -> list[Wire]:
    """The events in a random order, with a share of them repeated (without message id, so the stream keeps them)."""
    rng = random.Random(seed)
    out = list(wires)
    out += [Wire(w.subject, w.event, None) for w in rng.sample(list(wires), int(len(wires) * duplicate_share))]
    rng.shuffle(out)
    return out


async def publish(js: JetStreamContext, wires: Iterable[Wire], *, concurrency: int = 64) -> None:
    """Publish in order of the list, ``concurrency`` at a time (each chunk is acknowledged before the next)."""
    wires = list(wires)
    for start in range(0, len(wires), concurrency):
        chunk = wires[start : start + concurrency]
        await asyncio.gather(*(publish_one(js, w) for w in chunk))


async def publish_one(js: JetStreamContext, wire: Wire) -> None:
    headers = {names.Header.MSG_ID: wire.msg_id} if wire.msg_id else None
    await js.publish(wire.subject, encode(wire.event), headers=headers)
