"""What the events stream already holds about a task before it starts, read in one request.

Three questions come before every start: did another run submit this task id first (then this submit does not
run), how many runs began already (the attempt number), and is there a TaskFinished (then the submit is a
redelivery of finished work). One batch direct get answers all three: the last submit of each run that used the
task id, and the last TaskStarted and TaskFinished of this run's subjects. When the answer cannot settle a
question (several runs submitted the id, so which was first needs its own look-up; or the server cannot do batch
gets), ``None`` says "look it up on its own", as the generator always did.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.api import RawStreamMsg

from handoff.generator.publisher import Publisher
from handoff.schemas import names
from handoff.schemas.events import TaskSubmitted

BATCH = 16
"""Replies one look-up may hold: a submit per run that used the task id, a start and a finish. More than 14 runs
sharing one task id is an abuse the separate look-ups handle."""


@dataclass(frozen=True, slots=True)
class TaskState:
    other_runs_submitted: bool
    """A run other than this submit's stored a submit of this task id (which came first is a separate look-up)."""
    last_started: RawStreamMsg | None
    last_finished: RawStreamMsg | None


async def read_task_state(publisher: Publisher, task: TaskSubmitted) -> TaskState | None:
    """The task's state in one request, or None when it must be looked up question by question."""
    own_submit = names.task_subject(task.run_id, task.task_id, names.EventType.SUBMITTED)
    started = names.task_subject(task.run_id, task.task_id, names.EventType.STARTED)
    finished = names.task_subject(task.run_id, task.task_id, names.EventType.FINISHED)
    answer = await publisher.last_per_subject(
        names.EVENTS_STREAM,
        [names.task_filter(task.task_id, names.EventType.SUBMITTED), started, finished],
        batch=BATCH,
    )
    if answer is None or not answer.complete:
        return None
    by_subject = {m.subject: m for m in answer.messages}
    others = any(m.subject not in (own_submit, started, finished) for m in answer.messages)
    return TaskState(
        other_runs_submitted=others, last_started=by_subject.get(started), last_finished=by_subject.get(finished)
    )
