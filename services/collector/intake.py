"""What the collector makes of one message: a task event, a run sealing, or a rejection with its reason.

The subject is part of the contract: the event type is its last token, the task and run ids are in it, and an
event whose body disagrees with its subject is rejected (``subject_mismatch``) rather than folded into the wrong
record.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.msg import Msg

from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import (
    DeadLetterReason,
    RunSealed,
    TaskEvent,
    TaskFinished,
    TaskProgress,
    TaskStarted,
    TaskSubmitted,
)

_TASK_TYPES: dict[str, type] = {
    names.EventType.SUBMITTED: TaskSubmitted,
    names.EventType.STARTED: TaskStarted,
    names.EventType.PROGRESS: TaskProgress,
    names.EventType.FINISHED: TaskFinished,
}


@dataclass(frozen=True, slots=True)
class TaskItem:
    msg: Msg
    event: TaskEvent
    run_id: str | None


@dataclass(frozen=True, slots=True)
class SealItem:
    msg: Msg
    event: RunSealed


@dataclass(frozen=True, slots=True)
class Rejected:
    msg: Msg
    reason: DeadLetterReason
    detail: str
    task_id: str | None = None
    run_id: str | None = None
    is_submit: bool = False


Item = TaskItem | SealItem | Rejected


class Intake:
    """Classifies messages; one per collector (the decoders are built once)."""

    def __init__(self, *, max_bytes: int) -> None:
        self._task_decoders: dict[str, Decoder[TaskEvent]] = {
            token: Decoder(event_type, max_bytes=max_bytes) for token, event_type in _TASK_TYPES.items()
        }
        self._seal_decoder: Decoder[RunSealed] = Decoder(RunSealed, max_bytes=max_bytes)

    def classify(self, msg: Msg) -> Item:
        subject = msg.subject
        parsed = names.parse_task_subject(subject)
        if parsed is not None:
            return self._task(msg, *parsed)
        run = names.parse_run_subject(subject)
        if run is not None and names.valid_id(run[0]) and subject == names.run_sealed_subject(run[0]):
            return self._seal(msg, run[0])
        return Rejected(msg, DeadLetterReason.SUBJECT_MISMATCH, f"not a subject the collector reads: {subject!r}")

    def _task(self, msg: Msg, run_id: str | None, task_id: str, token: str) -> Item:
        decoder = self._task_decoders.get(token)
        is_submit = token == names.EventType.SUBMITTED
        if decoder is None:
            return Rejected(
                msg, DeadLetterReason.SUBJECT_MISMATCH, f"unknown event type {token!r} in subject", task_id, run_id
            )
        try:
            event = decoder.decode(msg.data)
        except DecodeError as exc:
            return Rejected(msg, exc.reason, exc.message, task_id, run_id, is_submit)
        if event.task_id != task_id:
            return Rejected(
                msg,
                DeadLetterReason.SUBJECT_MISMATCH,
                f"event task_id {event.task_id!r} does not match the subject's {task_id!r}",
                task_id,
                run_id,
                is_submit,
            )
        if event.run_id is not None and event.run_id != run_id:
            return Rejected(
                msg,
                DeadLetterReason.SUBJECT_MISMATCH,
                f"event run_id {event.run_id!r} does not match the subject's {run_id!r}",
                task_id,
                run_id,
                is_submit,
            )
        return TaskItem(msg, event, run_id)

    def _seal(self, msg: Msg, run_id: str) -> Item:
        try:
            event = self._seal_decoder.decode(msg.data)
        except DecodeError as exc:
            return Rejected(msg, exc.reason, exc.message, None, run_id)
        if event.run_id != run_id:
            return Rejected(
                msg,
                DeadLetterReason.SUBJECT_MISMATCH,
                f"RunSealed run_id {event.run_id!r} does not match the subject's {run_id!r}",
                None,
                run_id,
            )
        return SealItem(msg, event)
