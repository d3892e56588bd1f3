"""The run join: which tasks of a run have finished, how many there should be, and the ``RunFinished`` event.

A run's expected size comes from ``run_size`` on its submits (the largest one seen) or from a ``RunSealed``,
which wins. Its finished tasks are kept in shard records (``RunShard``, a task's shard is a hash of its id), and
the run record keeps only each shard's counts by status, so no record grows with the run. When as many tasks have
finished as expected, the collector publishes ``RunFinished`` once (its message id is derived from the run id, so
replicas and retries de-duplicate) and marks the record published.

``RunFinished`` carries the counts and the number of finished tasks; it lists the tasks themselves only up to
``RUN_FINISHED_MAX_TASKS`` (so it stays far below the message limit) and says ``tasks_listed=false`` beyond
that: readers then page through the shard records (``HandoffClient.run_tasks``).

Folding is idempotent and order-independent, like the task fold: a shard keeps the first status of a task, and
the run record keeps, per shard, the larger of two count sets (a shard only grows, so the larger is the newer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import msgspec

from handoff.schemas.events import RUN_FINISHED_MAX_TASKS, RunFinished, TaskStatus
from handoff.schemas.records import FinalStatus, RunRecord, RunShard, TaskRecord, join_run_tasks, run_shard_of

replace = msgspec.structs.replace

Counts = dict[TaskStatus, int]


class RunDelta(msgspec.Struct, kw_only=True, frozen=True):
    """What one batch of events teaches about a run."""

    declared_sizes: frozenset[int] = frozenset()
    sealed_sizes: frozenset[int] = frozenset()
    finished: dict[str, FinalStatus] = {}
    shard_counts: dict[str, Counts] = {}  # filled in once the finished tasks are in their shard records

    def merge(self, other: RunDelta) -> RunDelta:
        return RunDelta(
            declared_sizes=self.declared_sizes | other.declared_sizes,
            sealed_sizes=self.sealed_sizes | other.sealed_sizes,
            finished={**self.finished, **other.finished},
            shard_counts=_merge_counts(self.shard_counts, other.shard_counts),
        )


def _total(counts: Counts) -> int:
    return sum(counts.values())


def _merge_counts(a: dict[str, Counts], b: dict[str, Counts]) -> dict[str, Counts]:
    """Per shard, the later of two count snapshots: a shard only gains tasks, or (a replay) turns a dead letter into
    another status, so more tasks, or as many with fewer dead letters, is later."""
    merged = dict(a)
    for shard, counts in b.items():
        if shard not in merged or _later(counts, merged[shard]):
            merged[shard] = counts
    return merged


def _later(new: Counts, old: Counts) -> bool:
    if _total(new) != _total(old):
        return _total(new) > _total(old)
    dead = TaskStatus.DEAD_LETTERED
    return new.get(dead, 0) < old.get(dead, 0)


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


def by_shard(finished: dict[str, FinalStatus]) -> dict[int, dict[str, FinalStatus]]:
    """Finished tasks grouped by the shard they belong to."""
    groups: dict[int, dict[str, FinalStatus]] = defaultdict(dict)
    for task_id, final in finished.items():
        groups[run_shard_of(task_id)][task_id] = final
    return dict(groups)


def fold_shard(shard: RunShard | None, run_id: str, index: int, finished: dict[str, FinalStatus]) -> RunShard:
    """``shard`` with ``finished`` added; tasks already listed keep their first final status, except that a
    replayed dead letter's new finish replaces ``dead_lettered``."""
    base = shard or RunShard(run_id=run_id, shard=index)
    dead = TaskStatus.DEAD_LETTERED
    changed = {
        k: v
        for k, v in finished.items()
        if k not in base.finished or (base.finished[k].status == dead and v.status != dead)
    }
    return replace(base, finished={**base.finished, **changed}) if changed else base


def fold_run(record: RunRecord | None, run_id: str, delta: RunDelta) -> RunRecord:
    """``record`` with the sizes and shard counts of ``delta`` folded in (its ``finished`` go to the shards); a
    replayed dead letter whose new finish replaced ``dead_lettered`` in a shard bumps ``revision``: the run is
    reported again."""
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
    shard_counts = _merge_counts(base.shard_counts, delta.shard_counts)
    replayed = _dead_letters(shard_counts) < _dead_letters(base.shard_counts)
    return replace(
        base,
        declared_size=declared,
        sealed_size=sealed,
        conflicting_sizes=conflict,
        shard_counts=shard_counts,
        revision=base.revision + (1 if replayed else 0),
    )


def _dead_letters(shard_counts: dict[str, dict[TaskStatus, int]]) -> int:
    return sum(counts.get(TaskStatus.DEAD_LETTERED, 0) for counts in shard_counts.values())


def fold_run_in_memory(
    record: RunRecord | None, shards: dict[int, RunShard], run_id: str, delta: RunDelta
) -> RunRecord:
    """The whole join without a store (the collector does the same through KV): shards first, then the record."""
    counts: dict[str, Counts] = {}
    for index, finished in by_shard(delta.finished).items():
        shards[index] = fold_shard(shards.get(index), run_id, index, finished)
        counts[str(index)] = shards[index].counts()
    return fold_run(record, run_id, replace(delta, shard_counts=_merge_counts(delta.shard_counts, counts)))


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


def run_finished_event(record: RunRecord, shards: Iterable[RunShard], at: datetime) -> RunFinished:
    """The ``RunFinished`` for a complete run: counts by status, and its tasks when there are few enough."""
    size = record.finished_count
    listed = size <= RUN_FINISHED_MAX_TASKS
    return RunFinished(
        run_id=record.run_id,
        tasks=join_run_tasks(record, shards) if listed else [],
        finished_at=at,
        counts=record.counts(),
        size=size,
        tasks_listed=listed,
    )
