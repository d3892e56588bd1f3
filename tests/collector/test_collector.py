"""The collector against a real nats-server: records joined by task_id, runs joined, bad events dead-lettered."""

from __future__ import annotations

import structlog
from nats.js import JetStreamContext

from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.events import DeadLetterReason, TaskStatus
from handoff.schemas.records import TaskState
from handoff.schemas.topology import Topology
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import (
    Wire,
    finished,
    lifecycle,
    publish,
    sealed,
    shuffled_with_duplicates,
    submitted,
)
from tests.collector.probes import (
    collector_caught_up,
    dead_letters,
    run_finished,
    run_finished_counts,
    run_record,
    task_record,
    task_revision,
)
from tests.support.nats import eventually


def status_of(i: int) -> TaskStatus:
    return TaskStatus.FAILED if i % 7 == 3 else TaskStatus.SUCCEEDED


async def test_five_hundred_tasks_in_ten_runs_each_run_finished_lists_exactly_its_tasks(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """Two replicas fold 500 tasks of 10 runs from shuffled, duplicated events; republishing it all changes nothing."""
    wires: list[Wire] = []
    expected: dict[str, dict[str, TaskStatus]] = {}
    for r in range(10):
        run_id = f"run-{r}"
        declare = r % 2 == 0  # even runs declare their size on submit, odd runs are sealed
        expected[run_id] = {}
        for i in range(50):
            task_id = f"r{r}-t{i}"
            expected[run_id][task_id] = status_of(i)
            wires += lifecycle(task_id, run_id=run_id, run_size=50 if declare else None, status=status_of(i))
        if not declare:
            wires.append(sealed(run_id, 50))
    async with running_collector(js, replica_id="c1") as c1, running_collector(js, replica_id="c2") as c2:
        await publish(js, shuffled_with_duplicates(wires, seed=7))

        async def all_runs_finished() -> bool:
            return len(await run_finished_counts(js)) == 10

        await eventually(all_runs_finished, timeout_s=60, what="ten RunFinished events")
        await eventually(lambda: collector_caught_up(js), timeout_s=30, what="collector caught up")
        revisions = {t: await task_revision(js, t) for run in expected.values() for t in list(run)[:5]}
        # Everything again, in reverse order: duplicates of final events must change nothing.
        await publish(js, [Wire(w.subject, w.event, None) for w in reversed(wires)])
        await eventually(lambda: collector_caught_up(js), timeout_s=60, what="collector caught up again")

    print(c1.stats, c2.stats)
    assert c1.stats.events_folded > 0 and c2.stats.events_folded > 0  # both replicas did part of the work
    assert c1.stats.runs_finished + c2.stats.runs_finished == 10
    assert await run_finished_counts(js) == {run_id: 1 for run_id in expected}
    for run_id, tasks in expected.items():
        event = await run_finished(js, run_id)
        assert event is not None
        assert {t.task_id: t.status for t in event.tasks} == tasks
        assert event.counts == {s: n for s, n in ((s, list(tasks.values()).count(s)) for s in TaskStatus) if n}
        run = await run_record(js, run_id)
        assert run is not None and run.published_at is not None and not run.conflicting_sizes
    for run_id, tasks in expected.items():
        for task_id, status in list(tasks.items())[::7]:
            record = await task_record(js, task_id)
            assert record is not None
            assert record.state == TaskState(status.value) and record.submitted and record.run_id == run_id
            assert record.progress_count == 2 and record.timings.total_s == 5.0
    assert {t: await task_revision(js, t) for t in revisions} == revisions
    assert await dead_letters(js) == []


async def test_a_finish_published_before_its_submit_is_not_lost(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """The record is final as soon as the finish is folded and gains the submit's fields when it arrives."""
    t0 = utcnow()
    async with running_collector(js):
        await publish(js, [finished("early", run_id="r-early", at=t0)])

        async def final_record() -> bool:
            record = await task_record(js, "early")
            return record is not None and record.final

        await eventually(final_record, what="final record from the finish alone")
        await publish(js, [submitted("early", run_id="r-early", run_size=1, at=t0)])
        await eventually(lambda: run_finished(js, "r-early"), what="RunFinished once the size is known")
    record = await task_record(js, "early")
    assert record is not None and record.state == TaskState.SUCCEEDED and record.submitted


async def test_a_run_sealed_after_all_its_tasks_finished_is_reported_finished(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """Without a size on the submits nothing is published until the RunSealed arrives."""
    async with running_collector(js):
        await publish(js, [w for i in range(3) for w in lifecycle(f"s{i}", run_id="late-seal")])
        await eventually(lambda: collector_caught_up(js), what="tasks folded")
        assert await run_finished(js, "late-seal") is None
        run = await run_record(js, "late-seal")
        assert run is not None and run.finished_count == 3 and run.expected_size is None
        await publish(js, [sealed("late-seal", 3)])
        event = await eventually(lambda: run_finished(js, "late-seal"), what="RunFinished after the seal")
    assert [t.task_id for t in event.tasks] == ["s0", "s1", "s2"]


async def test_bad_events_are_dead_lettered_with_their_reason_and_do_not_block_the_rest(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """Garbage, schema violations and subject mismatches go to the DLQ; a bad submit is only logged."""
    t0 = utcnow()
    await js.publish(names.task_subject(None, "junk", names.EventType.FINISHED), b"\x00not json")
    await js.publish(names.task_subject(None, "junk", names.EventType.STARTED), b'{"type":"task.started"}')
    mismatched = finished("other-task", at=t0)
    await js.publish(names.task_subject(None, "junk", names.EventType.FINISHED), _encode(mismatched))
    await js.publish(names.task_subject(None, "junk", names.EventType.SUBMITTED), b"[]")
    with structlog.testing.capture_logs() as logs:
        async with running_collector(js):
            await publish(js, lifecycle("fine"))

            async def fine_is_final() -> bool:
                record = await task_record(js, "fine")
                return record is not None and record.final

            await eventually(fine_is_final, what="the good task folded")
            await eventually(lambda: collector_caught_up(js), what="every bad event settled")
    letters = await dead_letters(js)
    assert sorted(letter.reason for letter in letters) == sorted(
        [DeadLetterReason.UNDECODABLE, DeadLetterReason.SCHEMA_INVALID, DeadLetterReason.SUBJECT_MISMATCH]
    )
    assert {letter.original_subject.split(".")[-1] for letter in letters} == {"finished", "started"}
    assert all(letter.origin == "collector" and letter.stream_seq for letter in letters)
    assert b"\x00not json" in [letter.original for letter in letters]
    assert any(e["event"].startswith("bad submit") and e["reason"] == "schema_invalid" for e in logs)
    assert await task_record(js, "junk") is None


def _encode(wire: Wire) -> bytes:
    from handoff.schemas.codec import encode

    return encode(wire.event)


async def test_a_replayed_dead_letter_that_succeeds_is_reported_in_a_new_run_finished(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """After `handoff dlq replay` finished the task, the run record and the last RunFinished say succeeded."""
    t0 = utcnow()
    async with running_collector(js):
        await publish(js, lifecycle("ok", run_id="r-replay", run_size=2, t0=t0))
        dead = finished("dl", run_id="r-replay", status=TaskStatus.DEAD_LETTERED, at=t0)
        await publish(js, [submitted("dl", run_id="r-replay", run_size=2, at=t0), dead])
        first = await eventually(lambda: run_finished(js, "r-replay"), what="the first RunFinished")
        assert first.counts == {TaskStatus.SUCCEEDED: 1, TaskStatus.DEAD_LETTERED: 1}
        replayed = finished("dl", run_id="r-replay", attempt=2, at=utcnow())
        await publish(js, [Wire(replayed.subject, replayed.event, names.replayed_finished_msg_id("dl", 7))])

        async def reported_again() -> bool:
            event = await run_finished(js, "r-replay")
            return event is not None and event.counts == {TaskStatus.SUCCEEDED: 2}

        await eventually(reported_again, what="a RunFinished that counts the replayed task as succeeded")
    run = await run_record(js, "r-replay")
    assert run is not None and run.counts() == {TaskStatus.SUCCEEDED: 2} and run.revision == 1


async def test_an_event_after_a_lone_one_is_folded_without_waiting_out_the_whole_linger(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """The linger after a small batch ends once no event came for a moment: the last finishes of a burst (a run's
    end) are folded at once, not after ``linger_s`` (5 s here)."""
    t0 = utcnow()
    async with running_collector(js, linger_s=5.0, hold_s=0.0):
        await publish(js, [finished("first", at=t0)])

        async def final(task_id: str) -> bool:
            record = await task_record(js, task_id)
            return record is not None and record.final

        await eventually(lambda: final("first"), what="the first finish folded")
        await publish(js, [finished("second", at=t0)])  # arrives while the collector lingers after the first
        await eventually(lambda: final("second"), timeout_s=2.0, what="the second finish folded within 2 s")
