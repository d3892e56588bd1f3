"""Which attempt a delivery of a submit is: the runs that started before it, not how often it was delivered.

A submit handed back unrun (a replica with no free slot, a shutdown) is delivered again, so the delivery count
overstates the attempts: a fresh task could start as attempt 3, its last. The stored ``TaskStarted`` events say
how many runs really began: this delivery is the one after the last of them. For a submit replayed from the
dead-letter stream the numbering goes on (its events stay distinct from the earlier ones), while its retry budget
counts only the runs since the replay: those whose TaskStarted follows the replayed submit in the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nats.js.api import RawStreamMsg

from handoff.generator.publisher import Publisher
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import TaskStarted, TaskSubmitted

_started: Decoder[TaskStarted] = Decoder(TaskStarted)


class Unread(Enum):
    """A look-up not made yet (``None`` already means "looked up: there is none")."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    """The task's run number across its whole life (1 for the first run): what its events carry."""
    of_this_submit: int
    """The run number since this submit was stored (differs from ``number`` only for a replayed submit)."""


def _attempt_of(data: bytes | None) -> int | None:
    try:
        return _started.decode(data or b"").attempt
    except DecodeError:
        return None


async def next_attempt(
    publisher: Publisher,
    task: TaskSubmitted,
    *,
    submit_seq: int,
    replayed: bool,
    last_started: RawStreamMsg | Unread | None = UNREAD,
) -> Attempt:
    """The attempt this delivery is; ``last_started``: the task's last TaskStarted when the caller has read it."""
    subject = names.task_subject(task.run_id, task.task_id, names.EventType.STARTED)
    last = await publisher.last_on_subject(names.EVENTS_STREAM, subject) if last_started is UNREAD else last_started
    before = (_attempt_of(last.data) or 0) if last is not None else 0
    number = before + 1
    if not replayed or before == 0:
        return Attempt(number, number)
    first_since = await publisher.first_on_subject_since(names.EVENTS_STREAM, subject, submit_seq)
    first_number = _attempt_of(first_since.data) if first_since is not None else None
    runs_before_replay = (first_number - 1) if first_number is not None else before
    return Attempt(number, number - runs_before_replay)
