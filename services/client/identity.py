"""A task id belongs to one submit: the first one the events stream stored for it, under one run.

Two ways another pipeline could otherwise take over a caller's task:

* **Squatting**: storing a submit first with the caller's message id (``submit:<task>``), under any run. The
  caller's own submit is then a JetStream duplicate, and it would wait for, fetch and apply the other pipeline's
  result. A duplicate acknowledgement names the sequence of the stored message: the client reads it and accepts
  it only if it is the caller's own task (same subject, same payload, run, size and settings; a retried submit of
  the same task, from this process or another, stays idempotent), else it raises ``TaskIdTaken``.
* **Racing**: storing a submit for the same task id under another run, without the message id. The generators
  run only the first submit of a task id (the lowest stream sequence) and dead-letter the others with
  ``task_id_taken``; a caller that chose its task id itself checks after storing that its submit is that first
  one. (A task id the client generates is random and unknown to anyone before the submit is stored.)

``result()`` accepts only a finish of the run that owns the task (``owner_run``).
"""

from __future__ import annotations

from typing import NamedTuple

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from handoff.client.errors import TaskIdTaken
from handoff.client.retry import retry_transient
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import TaskSubmitted

_submitted: Decoder[TaskSubmitted] = Decoder(TaskSubmitted)


class Owner(NamedTuple):
    """The first stored submit of a task id: its stream sequence and its run (None: submitted without a run)."""

    seq: int
    run_id: str | None


def same_task(a: TaskSubmitted, b: TaskSubmitted) -> bool:
    """The same task asked for twice: the same work under the same run. The submit time, the deadline (computed
    from it) and the submitter's name (it names the process) may differ between a submit and its retry."""
    return (a.task_id, a.run_id, a.payload, a.run_size, a.priority, a.max_attempts, a.labels) == (
        b.task_id,
        b.run_id,
        b.payload,
        b.run_size,
        b.priority,
        b.max_attempts,
        b.labels,
    )


async def owner(js: JetStreamContext, task_id: str, *, give_up_after_s: float) -> Owner | None:
    """The first submit of ``task_id`` in the events stream, under any run; None if none is stored."""

    async def first() -> Owner | None:
        try:
            msg = await js.get_msg(
                names.EVENTS_STREAM, seq=1, next=True, subject=names.task_filter(task_id, names.EventType.SUBMITTED)
            )
        except NotFoundError:
            return None
        parsed = names.parse_task_subject(msg.subject or "")
        return Owner(msg.seq or 0, parsed[0] if parsed else None)

    return await retry_transient(first, what=f"find the first submit of {task_id}", give_up_after_s=give_up_after_s)


async def check_duplicate(
    js: JetStreamContext, event: TaskSubmitted, subject: str, seq: int, *, give_up_after_s: float
) -> None:
    """A duplicate acknowledgement for ``event``: accept it only if the stored message at ``seq`` is this task."""

    async def stored() -> tuple[str, bytes] | None:
        try:
            msg = await js.get_msg(names.EVENTS_STREAM, seq)
        except NotFoundError:
            return None
        return msg.subject or "", msg.data or b""

    found = await retry_transient(stored, what=f"read the stored submit #{seq}", give_up_after_s=give_up_after_s)
    if found is None:
        raise TaskIdTaken(event.task_id, "its message id was taken by a message that is no longer stored")
    stored_subject, data = found
    if stored_subject != subject:
        raise TaskIdTaken(event.task_id, f"its message id was taken by a message on {stored_subject!r}")
    try:
        theirs = _submitted.decode(data)
    except DecodeError as exc:
        raise TaskIdTaken(event.task_id, f"its message id was taken by an undecodable submit ({exc.reason})") from exc
    if not same_task(theirs, event):
        raise TaskIdTaken(event.task_id, f"another submit of it (by {theirs.submitter!r}) differs from this one")


async def check_first(js: JetStreamContext, event: TaskSubmitted, seq: int, *, give_up_after_s: float) -> None:
    """After storing a submit with a caller-chosen task id: refuse if an earlier submit of another run owns it."""
    first = await owner(js, event.task_id, give_up_after_s=give_up_after_s)
    if first is not None and first.seq != seq and first.run_id != event.run_id:
        raise TaskIdTaken(event.task_id, f"run {first.run_id or '(none)'!r} submitted it first")
