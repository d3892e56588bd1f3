"""The records clients read from the key-value buckets: part of the wire contract, like the events.

* ``TaskRecord``: one per task_id in ``handoff_tasks``, written by the collector;
* ``RunRecord``: one per run_id in ``handoff_runs``, plus the run's finished tasks in ``RUN_SHARDS`` shard
  records ``RunShard`` under ``<run_id>.tasks.<n>`` in the same bucket (a task's shard is a hash of its id);
* ``ReplicaPresence``: one per generator replica in ``handoff_replicas``, expiring with the bucket's TTL.

JSON-encoded msgspec Structs, like the events; new fields always get defaults. Their JSON Schemas are exported to
``schemas/json/record.*.schema.json`` (``handoff schemas export``).

Every record stays bounded whatever the run's size: the run record holds counts per shard, not task ids, and a
shard holds about ``run_size / RUN_SHARDS`` tasks (about 1,600 at the largest run size, 100,000: ~150 KB with
64-character ids, far below the 1 MiB message limit; see ``tests/collector/test_large_runs.py``).

Every field of a task record is a deterministic function of the *set* of events folded in (see
``handoff.schemas.fold``), so records are the same whatever order, and however many times, the events arrived.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

import msgspec

from handoff.schemas.events import ErrorCode, Priority, RunTask, TaskFinished, TaskStatus, Timings

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


RUN_SHARDS = 64


def run_shard_of(task_id: str) -> int:
    """The shard of a run's finished tasks that ``task_id`` belongs to."""
    return int.from_bytes(hashlib.blake2b(task_id.encode(), digest_size=4).digest()) % RUN_SHARDS


def run_shard_key(run_id: str, shard: int) -> str:
    """KV key of a shard record (run ids have no dots, so it never collides with a run record's key)."""
    return f"{run_id}.tasks.{shard}"


class RunShard(msgspec.Struct, kw_only=True, frozen=True):
    """One shard of a run's finished tasks: task_id -> final status (the first status of a task stays)."""

    run_id: str
    shard: int
    finished: dict[str, FinalStatus] = {}
    record_version: int = RECORD_VERSION

    def counts(self) -> dict[TaskStatus, int]:
        counts: dict[TaskStatus, int] = {}
        for final in self.finished.values():
            counts[final.status] = counts.get(final.status, 0) + 1
        return counts


class RunRecord(msgspec.Struct, kw_only=True, frozen=True):
    run_id: str
    sealed_size: int | None = None  # from a RunSealed; wins over sizes declared on submits
    declared_size: int | None = None  # the largest run_size seen on the run's submits
    conflicting_sizes: bool = False  # submits or seals disagreed about the size
    # Written by versions before shards (task_id -> final status); still counted, no longer written.
    finished: dict[str, FinalStatus] = {}
    published_at: datetime | None = None  # when this collector published RunFinished
    # shard -> counts by status of the finished tasks in that shard record (keys are shard numbers as text)
    shard_counts: dict[str, dict[TaskStatus, int]] = {}
    shards: int = RUN_SHARDS  # how many shard records the run's tasks are spread over
    revision: int = 0  # bumped when a replayed dead letter's finish replaces its dead_lettered status
    published_revision: int = 0  # the revision the last published RunFinished reported
    record_version: int = RECORD_VERSION

    @property
    def expected_size(self) -> int | None:
        return self.sealed_size if self.sealed_size is not None else self.declared_size

    @property
    def finished_count(self) -> int:
        return len(self.finished) + sum(sum(c.values()) for c in self.shard_counts.values())

    def counts(self) -> dict[TaskStatus, int]:
        """Finished tasks by status, over every shard (and the legacy list)."""
        total: dict[TaskStatus, int] = {}
        for final in self.finished.values():
            total[final.status] = total.get(final.status, 0) + 1
        for counts in self.shard_counts.values():
            for status, n in counts.items():
                total[status] = total.get(status, 0) + n
        return total

    @property
    def complete(self) -> bool:
        size = self.expected_size
        return size is not None and self.finished_count >= size


def join_run_tasks(record: RunRecord, shards: Iterable[RunShard]) -> list[RunTask]:
    """Every finished task of the run, sorted by task id."""
    finished = dict(record.finished)
    for shard in shards:
        finished.update({k: v for k, v in shard.finished.items() if k not in finished})
    return [
        RunTask(task_id=task_id, status=final.status, error_code=final.error_code)
        for task_id, final in sorted(finished.items())
    ]


task_record_decoder = msgspec.json.Decoder(TaskRecord)
run_record_decoder = msgspec.json.Decoder(RunRecord)
run_shard_decoder = msgspec.json.Decoder(RunShard)


class ReplicaPresence(msgspec.Struct, kw_only=True, frozen=True):
    """A generator replica's report of itself (slots, counters, readiness), refreshed every few seconds."""

    replica_id: str
    hostname: str
    pid: int
    slots: int
    slots_in_use: int
    started: int
    finished: int
    dead_letters: int
    ready: bool
    since: datetime
    reported_at: datetime


presence_decoder = msgspec.json.Decoder(ReplicaPresence)

RECORD_TYPES: tuple[type[msgspec.Struct], ...] = (TaskRecord, RunRecord, RunShard, ReplicaPresence)
"""Every record type with an exported JSON Schema."""
