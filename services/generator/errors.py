"""The one boundary where whatever happened to a task becomes a decision about its submit message.

A task attempt ends in an ``Outcome``; ``decide`` turns it into a ``Decision`` (finish and ack, retry later with
a delayed nak, or hand the message back at once). Foreign exceptions from runners are mapped onto the runner
failure hierarchy by ``as_failure`` first, so nothing else in the generator inspects exception types.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from enum import StrEnum

from handoff.common.secrets import process_redactor
from handoff.runners.base import PermanentFailure, TaskFailure, TransientFailure
from handoff.schemas.events import ErrorCode, TaskError, TaskResult, TaskStatus

MAX_TEXT = 65_536


class GeneratorError(RuntimeError):
    """The generator cannot serve at all (for example its consumer does not exist)."""


class ConsumerDrifted(GeneratorError):
    """The durable consumer's structure is not the topology's (its filter rewritten, an inactivity threshold set
    ...): serving it would dead-letter or lose work. ``handoff topology apply`` (as admin) repairs it."""


class Interruption(StrEnum):
    """Why a running task was stopped from outside."""

    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SHUTDOWN = "shutdown"
    FINISHED_ELSEWHERE = "finished_elsewhere"
    """Another run of the task (a redelivery while this replica was frozen or cut off) has finished it."""


# ---- outcomes of one attempt ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Succeeded:
    result: TaskResult


@dataclass(frozen=True, slots=True)
class Failed:
    failure: TaskFailure


@dataclass(frozen=True, slots=True)
class Interrupted:
    why: Interruption
    reason: str = ""


Outcome = Succeeded | Failed | Interrupted


# ---- decisions -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Finish:
    """Publish the one TaskFinished, then ack the submit."""

    status: TaskStatus
    result: TaskResult | None = None
    error: TaskError | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Tell watchers, then ``nak(delay=delay_s)``: JetStream redelivers, maybe to another replica."""

    delay_s: float
    error: TaskError


@dataclass(frozen=True, slots=True)
class Release:
    """``nak()`` without delay and publish nothing: another replica takes the task now (graceful shutdown)."""


@dataclass(frozen=True, slots=True)
class Drop:
    """Another run has finished the task: publish nothing (its finish stands), ack the submit."""


Decision = Finish | Retry | Release | Drop


def _clip(text: str) -> str:
    """Redacted first (a secret cut in half would no longer be recognised by the publisher), then cut."""
    text = process_redactor()(text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def task_error(code: ErrorCode, message: str, *, retryable: bool = False, detail: str = "") -> TaskError:
    return TaskError(code=code, message=_clip(message), retryable=retryable, detail=_clip(detail))


def as_failure(exc: BaseException) -> TaskFailure:
    """Map anything a runner raised onto ``TaskFailure``: timeouts and network errors are transient."""
    if isinstance(exc, TaskFailure):
        return exc
    detail = "".join(traceback.format_exception(exc))
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError | ConnectionError):
        return TransientFailure(ErrorCode.INTERNAL, f"runner hit a transient error: {text}", detail=detail)
    return PermanentFailure(ErrorCode.INTERNAL, f"runner crashed: {text}", detail=detail)


def attempts_allowed(max_attempts: int, max_deliver: int) -> int:
    """A task gets its own ``max_attempts`` but never more than the consumer delivers (-1: unlimited)."""
    return max_attempts if max_deliver < 1 else min(max_attempts, max_deliver)


def retry_delay_s(attempt: int, backoff_s: tuple[float, ...]) -> float:
    if not backoff_s:
        return 0.0
    return backoff_s[min(max(attempt, 1) - 1, len(backoff_s) - 1)]


def decide(outcome: Outcome, *, attempt: int, allowed: int, backoff_s: tuple[float, ...]) -> Decision:
    match outcome:
        case Succeeded(result=result):
            return Finish(TaskStatus.SUCCEEDED, result=result)
        case Interrupted(why=Interruption.SHUTDOWN):
            return Release()
        case Interrupted(why=Interruption.FINISHED_ELSEWHERE):
            return Drop()
        case Interrupted(why=Interruption.CANCELLED, reason=reason):
            return Finish(TaskStatus.CANCELLED, error=task_error(ErrorCode.CANCELLED, reason or "cancel requested"))
        case Interrupted(why=Interruption.TIMED_OUT, reason=reason):
            return Finish(TaskStatus.TIMED_OUT, error=task_error(ErrorCode.TIMED_OUT, reason or "deadline passed"))
        case Failed(failure=failure):
            error = task_error(failure.code, failure.message, retryable=failure.retryable, detail=failure.detail)
            if failure.retryable and attempt < allowed:
                return Retry(retry_delay_s(attempt, backoff_s), error)
            return Finish(TaskStatus.FAILED, error=error)
    raise AssertionError(f"unhandled outcome {outcome!r}")
