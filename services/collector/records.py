"""The records the collector keeps: one ``TaskRecord`` per task_id in ``handoff_tasks``, one ``RunRecord`` per run_id
in ``handoff_runs``. JSON-encoded msgspec Structs, like the events; new fields always get defaults.

Every field is a deterministic function of the *set* of events folded in (see ``services.collector.fold``), so
records are the same whatever order, and however many times, the events arrived.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from schemas.events import ErrorCode, Priority, TaskFinished, TaskStatus, Timings

RECORD_VERSION = 1


class TaskState(StrEnum):
    """Where a task is. The last five are final and are the ``TaskStatus`` values of its ``TaskFinished``."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = TaskStatus.SUCCEEDED.value
    FAILED = TaskStatus.FAILED.value
    CANCELLED = TaskStatus.CANCELLED.value
    TIMED_OUT = TaskStatus.TIMED_OUT.value
    DEAD_LETTERED = TaskStatus.DEAD_LETTERED.value

    @property
    def final(self) -> bool:
        return self not in (TaskState.QUEUED, TaskState.RUNNING)


class AttemptSeen(msgspec.Struct, kw_only=True, frozen=True):
    """One execution attempt: who started it and when, and which progress reports it sent."""

    attempt: int
    replica_id: str = ""
    started_at: datetime | None = None
    progress_seqs: tuple[int, ...] = ()  # distinct progress seq numbers seen, sorted (capped)


class ProgressNote(msgspec.Struct, kw_only=True, frozen=True):
    attempt: int
    seq: int
    stage: str
    at: datetime
    message: str = ""


class TaskRecord(msgspec.Struct, kw_only=True, frozen=True):
    task_id: str
    state: TaskState
    run_id: str | None = None
    kind: str = ""
    # from the submit (filled in whenever it arrives)
    submitted: bool = False
    submitted_at: datetime | None = None
    run_size: int | None = None
    priority: Priority | None = None
    deadline: datetime | None = None
    max_attempts: int | None = None
    submitter: str = ""
    labels: dict[str, str] = {}
    # from starts and progress
    attempt: int = 0  # the highest attempt seen
    replica_id: str = ""  # the replica of the highest attempt seen
    started_at: datetime | None = None  # the first start
    attempts: tuple[AttemptSeen, ...] = ()
    last_progress: ProgressNote | None = None
    progress_count: int = 0
    # from the finish
    finished_at: datetime | None = None
    finished: TaskFinished | None = None
    finish_conflict: bool = False  # another, different finished event arrived and was not taken (first wins)
    timings: Timings = Timings()
    record_version: int = RECORD_VERSION

    @property
    def final(self) -> bool:
        return self.state.final


class FinalStatus(msgspec.Struct, frozen=True, array_like=True):
    """A finished task's status in a run record, stored as a two-element array to keep big runs small."""

    status: TaskStatus
    error_code: ErrorCode | None = None


class RunRecord(msgspec.Struct, kw_only=True, frozen=True):
    run_id: str
    sealed_size: int | None = None  # from a RunSealed; wins over sizes declared on submits
    declared_size: int | None = None  # the largest run_size seen on the run's submits
    conflicting_sizes: bool = False  # submits or seals disagreed about the size
    finished: dict[str, FinalStatus] = {}  # task_id -> final status
    published_at: datetime | None = None  # when this collector published RunFinished
    revision: int = 0  # bumped when a replayed dead letter's finish replaces its dead_lettered status
    published_revision: int = 0  # the revision the last published RunFinished reported
    record_version: int = RECORD_VERSION

    @property
    def expected_size(self) -> int | None:
        return self.sealed_size if self.sealed_size is not None else self.declared_size

    @property
    def complete(self) -> bool:
        size = self.expected_size
        return size is not None and len(self.finished) >= size


task_record_decoder = msgspec.json.Decoder(TaskRecord)
run_record_decoder = msgspec.json.Decoder(RunRecord)
