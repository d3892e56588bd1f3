"""Folding events into task and run records gives one answer whatever the order and however many duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.collector.runs import (
    RunDelta,
    delta_of_task,
    fold_run_in_memory,
    mark_published,
    needs_report,
    run_finished_event,
)
from handoff.schemas.events import ErrorCode, TaskStatus
from handoff.schemas.fold import fold_task
from handoff.schemas.records import FinalStatus, RunShard, TaskRecord, TaskState
from tests.collector.lifecycle import Wire, finished, lifecycle, progress, started, submitted

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def fold_wires(wires: list[Wire], record: TaskRecord | None = None) -> TaskRecord:
    for wire in wires:
        run = wire.subject.split(".")[2]
        record = fold_task(record, wire.event, run_id=None if run == "_" else run)  # type: ignore[arg-type]
    assert record is not None
    return record


def retried_task() -> list[Wire]:
    """A task whose first attempt reported progress and died, and whose second attempt succeeded."""
    s = timedelta(seconds=1)
    first = lifecycle("t1", run_id="r1", run_size=3, t0=T0)
    return [
        *first[:-1],
        started("t1", run_id="r1", attempt=2, replica="gen-2", at=T0 + 10 * s),
        progress("t1", run_id="r1", attempt=2, seq=0, at=T0 + 11 * s),
        finished("t1", run_id="r1", attempt=2, replica="gen-2", at=T0 + 15 * s),
    ]


@settings(max_examples=200, deadline=None)
@given(st.permutations(range(len(retried_task()))), st.lists(st.integers(0, len(retried_task()) - 1), max_size=8))
def test_any_order_with_any_duplicates_folds_to_the_same_record(order: list[int], duplicates: list[int]) -> None:
    """Permuting a task's events and repeating some of them never changes the folded record."""
    wires = retried_task()
    expected = fold_wires(wires)
    assert fold_wires([wires[i] for i in [*order, *duplicates]]) == expected
    assert fold_wires([wires[i] for i in duplicates], expected) == expected


def test_a_folded_record_has_the_submit_attempts_progress_and_timings() -> None:
    """The in-order fold of a retried task names its last replica and attempt and computes the three timings."""
    record = fold_wires(retried_task())
    assert record.state == TaskState.SUCCEEDED and record.final
    assert (record.run_id, record.run_size, record.kind) == ("r1", 3, "sleep")
    assert (record.attempt, record.replica_id) == (2, "gen-2")
    assert [a.attempt for a in record.attempts] == [1, 2]
    assert record.progress_count == 3
    assert record.last_progress is not None and (record.last_progress.attempt, record.last_progress.seq) == (2, 0)
    assert record.started_at == T0 + timedelta(seconds=2)
    assert record.timings.queue_wait_s == 2.0  # submit -> first start
    assert record.timings.run_s == 5.0  # the finishing attempt's start -> finish
    assert record.timings.total_s == 15.0
    assert record.labels == {"module": "t1.py"}


def test_a_finish_folded_before_the_submit_is_kept_and_the_submit_fills_in() -> None:
    """A finish that arrives first makes a final record; the late submit adds its fields without undoing it."""
    wires = lifecycle("t2", run_id="r1", t0=T0)
    only_finish = fold_wires([wires[-1]])
    assert only_finish.final and not only_finish.submitted and only_finish.kind == "sleep"
    both = fold_wires([wires[0]], only_finish)
    assert both.final and both.submitted and both.submitted_at == T0
    assert both.timings.total_s == 5.0


def test_a_final_record_never_goes_back_to_running() -> None:
    """Starts and progress of any attempt after the finish leave the state final."""
    record = fold_wires(lifecycle("t3", t0=T0))
    late = fold_wires([started("t3", attempt=5, at=T0), progress("t3", attempt=5, seq=9, at=T0)], record)
    assert late.state == TaskState.SUCCEEDED and late.attempt == 1  # the finishing run still names the task


def test_a_different_second_finish_is_not_taken_but_flagged() -> None:
    """The first finished event wins; a conflicting one only sets finish_conflict."""
    record = fold_wires(lifecycle("t4", t0=T0))
    other = finished("t4", status=TaskStatus.FAILED, at=T0 + timedelta(seconds=30))
    after = fold_wires([other], record)
    assert after.state == TaskState.SUCCEEDED and after.finish_conflict
    assert after.finished == record.finished


def test_a_run_is_complete_when_its_declared_or_sealed_size_of_tasks_finished() -> None:
    """Sizes from submits count until a seal says otherwise; the RunFinished lists the tasks sorted with counts."""
    shards: dict[int, RunShard] = {}
    run = fold_run_in_memory(None, shards, "r1", RunDelta(declared_sizes=frozenset({3})))
    for task_id, status in [("b", TaskStatus.SUCCEEDED), ("a", TaskStatus.FAILED)]:
        run = fold_run_in_memory(run, shards, "r1", RunDelta(finished={task_id: FinalStatus(status, None)}))
    assert not run.complete
    sealed = fold_run_in_memory(run, shards, "r1", RunDelta(sealed_sizes=frozenset({2})))
    assert sealed.complete and sealed.expected_size == 2 and sealed.conflicting_sizes  # the seal wins, flagged
    event = run_finished_event(sealed, shards.values(), T0)
    assert [t.task_id for t in event.tasks] == ["a", "b"] and event.tasks_listed and event.size == 2
    assert event.counts == {TaskStatus.FAILED: 1, TaskStatus.SUCCEEDED: 1}


def test_a_task_contributes_its_final_status_and_error_code_to_its_run() -> None:
    """delta_of_task carries the status and error code of a finished task and the run size of its submit."""
    record = fold_wires(lifecycle("t5", run_id="r9", run_size=4, status=TaskStatus.FAILED, t0=T0))
    delta = delta_of_task(record)
    assert delta is not None
    assert delta.finished == {"t5": FinalStatus(TaskStatus.FAILED, ErrorCode.LLM_UNAVAILABLE)}
    assert delta.declared_sizes == frozenset({4})
    assert delta_of_task(fold_wires(lifecycle("t6", t0=T0))) is None  # no run


@settings(max_examples=100, deadline=None)
@given(st.permutations(range(6)))
def test_run_folding_is_order_independent_and_the_first_status_of_a_task_stays(order: list[int]) -> None:
    """Run deltas folded in any order give the same record and the same shard records."""
    deltas = [
        RunDelta(declared_sizes=frozenset({4})),
        RunDelta(finished={"a": FinalStatus(TaskStatus.SUCCEEDED)}),
        RunDelta(finished={"b": FinalStatus(TaskStatus.FAILED, ErrorCode.TIMED_OUT)}),
        RunDelta(sealed_sizes=frozenset({3})),
        RunDelta(finished={"c": FinalStatus(TaskStatus.SUCCEEDED)}),
        RunDelta(finished={"a": FinalStatus(TaskStatus.SUCCEEDED)}),
    ]
    expected_shards: dict[int, RunShard] = {}
    expected = None
    for d in deltas:
        expected = fold_run_in_memory(expected, expected_shards, "r", d)
    shards: dict[int, RunShard] = {}
    record = None
    for i in order:
        record = fold_run_in_memory(record, shards, "r", deltas[i])
    assert record == expected and shards == expected_shards
    assert record is not None and record.complete and record.conflicting_sizes and record.finished_count == 3


def test_events_of_the_same_task_id_under_another_run_are_not_folded_into_the_owners_record() -> None:
    """A later submit (even one claiming an earlier time) and a finish of another run leave the owner's record as is."""
    owner = fold_wires([submitted("t7", run_id="r-owner", run_size=2, at=T0)])
    after = fold_wires(
        [
            submitted("t7", run_id="r-evil", run_size=9, at=T0 - timedelta(hours=1)),
            finished("t7", run_id="r-evil", status=TaskStatus.FAILED, at=T0),
        ],
        owner,
    )
    assert after == owner and after.run_id == "r-owner" and after.finished is None
    done = fold_wires([finished("t7", run_id="r-owner", at=T0 + timedelta(seconds=5))], after)
    assert done.state == TaskState.SUCCEEDED and done.run_id == "r-owner"


def test_a_record_names_the_run_that_finished_it_even_when_a_later_attempt_started() -> None:
    """A frozen replica's attempt 1 finished while the redelivered attempt 2 ran: the record says attempt 1."""
    s = timedelta(seconds=1)
    wires = [
        *lifecycle("t7", t0=T0)[:2],
        started("t7", attempt=2, replica="gen-2", at=T0 + 10 * s),
        finished("t7", attempt=1, replica="gen-1", at=T0 + 12 * s),
    ]
    record = fold_wires(wires)
    assert record.finished is not None
    assert (record.attempt, record.replica_id) == (record.finished.attempt, record.finished.replica_id) == (1, "gen-1")


def test_a_replayed_dead_letter_that_succeeds_changes_its_run_and_asks_for_a_new_run_finished() -> None:
    """The run record replaces dead_lettered with the replay's status and needs reporting again."""
    shards: dict[int, RunShard] = {}
    run = fold_run_in_memory(
        None, shards, "r", RunDelta(declared_sizes=frozenset({2}), finished={"a": FinalStatus(TaskStatus.SUCCEEDED)})
    )
    run = fold_run_in_memory(run, shards, "r", RunDelta(finished={"b": FinalStatus(TaskStatus.DEAD_LETTERED)}))
    assert needs_report(run)
    run = mark_published(run, T0, run.revision)
    assert not needs_report(run)
    replayed = fold_run_in_memory(run, shards, "r", RunDelta(finished={"b": FinalStatus(TaskStatus.SUCCEEDED)}))
    assert replayed.counts() == {TaskStatus.SUCCEEDED: 2} and needs_report(replayed)
    assert run_finished_event(replayed, shards.values(), T0).counts == {TaskStatus.SUCCEEDED: 2}
    again = fold_run_in_memory(
        mark_published(replayed, T0, replayed.revision),
        shards,
        "r",
        RunDelta(finished={"b": FinalStatus(TaskStatus.DEAD_LETTERED)}),
    )
    assert again.counts() == {TaskStatus.SUCCEEDED: 2} and not needs_report(again)
