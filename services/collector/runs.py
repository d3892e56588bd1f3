"""The run join: which tasks of a run have finished, how many there should be, and the ``RunFinished`` event.

A run's expected size comes from ``run_size`` on its submits (the largest one seen) or from a ``RunSealed``,
which wins. When as many tasks have finished as expected, the collector publishes ``RunFinished`` once (its
message id is derived from the run id, so replicas and retries de-duplicate) and marks the record published.
Folding is idempotent and order-independent, like the task fold.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import msgspec

from schemas.events import RunFinished, RunTask, TaskStatus
from services.collector.records import FinalStatus, RunRecord, TaskRecord

replace = msgspec.structs.replace


class RunDelta(msgspec.Struct, kw_only=True, frozen=True):
    """What one batch of events teaches about a run."""

    declared_sizes: frozenset[int] = frozenset()
    sealed_sizes: frozenset[int] = frozenset()
    finished: dict[str, FinalStatus] = {}

    def merge(self, other: RunDelta) -> RunDelta:
        return RunDelta(
            declared_sizes=self.declared_sizes | other.declared_sizes,
            sealed_sizes=self.sealed_sizes | other.sealed_sizes,
            finished={**self.finished, **other.finished},
        )


def delta_of_task(record: TaskRecord) -> RunDelta | None:
    """What a task record contributes to its run, or None if it has no run or nothing to say yet."""
    if record.run_id is None:
        return None
    finished: dict[str, FinalStatus] = {}
    if record.finished is not None:
        error = record.finished.error
        finished[record.task_id] = FinalStatus(record.finished.status, error.code if error else None)
    sizes = frozenset({record.run_size}) if record.run_size is not None else frozenset()
    if not finished and not sizes:
        return None
    return RunDelta(declared_sizes=sizes, finished=finished)


def fold_run(record: RunRecord | None, run_id: str, delta: RunDelta) -> RunRecord:
    """``record`` with ``delta`` folded in; tasks already listed keep their first final status, except that a
    replayed dead letter's new finish replaces ``dead_lettered`` (and bumps ``revision``: the run is reported
    again)."""
    base = record or RunRecord(run_id=run_id)
    conflict = base.conflicting_sizes
    declared = base.declared_size
    if delta.declared_sizes:
        sizes = set(delta.declared_sizes) | ({declared} if declared is not None else set())
        conflict = conflict or len(sizes) > 1
        declared = max(sizes)
    sealed = base.sealed_size
    if delta.sealed_sizes:
        sizes = set(delta.sealed_sizes) | ({sealed} if sealed is not None else set())
        conflict = conflict or len(sizes) > 1
        sealed = max(sizes)
    conflict = conflict or (sealed is not None and declared is not None and sealed != declared)
    new_tasks = {k: v for k, v in delta.finished.items() if k not in base.finished}
    dead = TaskStatus.DEAD_LETTERED
    replayed = {
        k: v
        for k, v in delta.finished.items()
        if k in base.finished and base.finished[k].status == dead and v.status != dead
    }
    changed = {**new_tasks, **replayed}
    finished = {**base.finished, **changed} if changed else base.finished
    revision = base.revision + (1 if replayed else 0)
    return replace(
        base,
        declared_size=declared,
        sealed_size=sealed,
        conflicting_sizes=conflict,
        finished=finished,
        revision=revision,
    )


def mark_published(record: RunRecord, at: datetime, revision: int = 0) -> RunRecord:
    """The record after a RunFinished for ``revision`` was published (the first publish time stays)."""
    if record.published_at is not None and record.published_revision >= revision:
        return record
    return replace(record, published_at=record.published_at or at, published_revision=revision)


def needs_report(record: RunRecord) -> bool:
    """A complete run not yet reported, or changed by a replay since its last report."""
    if not record.complete:
        return False
    return record.published_at is None or record.revision > record.published_revision


def run_finished_event(record: RunRecord, at: datetime) -> RunFinished:
    """The ``RunFinished`` for a complete run: every finished task, sorted by task id, and counts by status."""
    tasks = [
        RunTask(task_id=task_id, status=final.status, error_code=final.error_code)
        for task_id, final in sorted(record.finished.items())
    ]
    counts: Counter[TaskStatus] = Counter(t.status for t in tasks)
    return RunFinished(run_id=record.run_id, tasks=tasks, finished_at=at, counts=dict(counts))
