"""Awaiting results: at once when finished, on finish when not, typed errors for unknown ids and timeouts."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.client import HandoffClient, ResultTimeoutError, UnknownTaskError
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.events import Sleep, TaskStatus
from handoff.schemas.records import TaskRecord, TaskState
from handoff.schemas.topology import Topology
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import finished, lifecycle, progress, publish, started
from tests.collector.probes import task_record
from tests.support.nats import eventually


async def submit_and_run(client: HandoffClient, js: JetStreamContext, task_id: str, **kw: object) -> None:
    """Submit through the client, then play the generator: start, progress, finish."""
    await client.submit(Sleep(duration_s=0), task_id=task_id, **kw)  # type: ignore[arg-type]
    await publish(js, lifecycle(task_id, run_id=kw.get("run_id"))[1:])  # type: ignore[arg-type]


async def test_result_after_the_task_finished_returns_the_final_event(
    client: HandoffClient, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """A caller that arrives after the finish gets the TaskFinished from the record without waiting."""
    async with running_collector(js):
        await submit_and_run(client, js, "done-before")

        async def folded() -> bool:
            record = await task_record(js, "done-before")
            return record is not None and record.final

        await eventually(folded, what="record final")
        result = await client.result("done-before", timeout=1)
    assert result.task_id == "done-before" and result.status == TaskStatus.SUCCEEDED


async def test_result_called_before_the_finish_returns_when_the_task_finishes(
    client: HandoffClient, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """A caller waiting from the start gets the result once the finish is published."""
    async with running_collector(js):
        task_id = await client.submit(Sleep(duration_s=0))
        waiting = asyncio.create_task(client.result(task_id, timeout=30))
        await publish(js, [started(task_id, at=utcnow()), progress(task_id, seq=0, at=utcnow())])
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await publish(js, [finished(task_id, status=TaskStatus.FAILED, at=utcnow())])
        result = await asyncio.wait_for(waiting, timeout=10)
    assert result.status == TaskStatus.FAILED and result.error is not None


async def test_result_arrives_from_the_stream_while_no_collector_runs(
    client: HandoffClient, js: JetStreamContext, topology: Topology
) -> None:
    """Results do not depend on the collector keeping up: both the late and the early caller get them."""
    await submit_and_run(client, js, "no-collector-late")
    assert (await client.result("no-collector-late", timeout=1)).status == TaskStatus.SUCCEEDED
    task_id = await client.submit(Sleep(duration_s=0))
    waiting = asyncio.create_task(client.result(task_id, timeout=30))
    await publish(js, [finished(task_id, at=utcnow())])
    assert (await asyncio.wait_for(waiting, timeout=10)).task_id == task_id


async def test_an_unknown_task_id_fails_at_once_with_a_typed_error(
    client: HandoffClient, js: JetStreamContext, topology: Topology
) -> None:
    """result(unknown) raises UnknownTaskError without waiting for its timeout; status() and cancel() too."""
    async with asyncio.timeout(5):  # far below the 60 s the call was given
        with pytest.raises(UnknownTaskError) as info:
            await client.result("never-submitted", timeout=60)
    assert info.value.task_id == "never-submitted" and isinstance(info.value, LookupError)
    with pytest.raises(UnknownTaskError):
        await client.status("never-submitted")
    with pytest.raises(UnknownTaskError):
        await client.cancel("never-submitted")


async def test_a_slow_task_times_out_with_a_typed_error_and_keeps_running(
    client: HandoffClient, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """ResultTimeoutError after the timeout; nothing is cancelled, and a later result() gets the finish."""
    async with running_collector(js):
        task_id = await client.submit(Sleep(duration_s=3600))
        await publish(js, [started(task_id, at=utcnow())])
        with pytest.raises(ResultTimeoutError) as info:
            await client.result(task_id, timeout=1)
        assert info.value.pending == (task_id,) and isinstance(info.value, TimeoutError)
        assert "keeps running" in str(info.value)
        control = await js.stream_info(names.CONTROL_STREAM)
        assert control.state.messages == 0  # no cancel was requested
        await publish(js, [finished(task_id, at=utcnow())])
        assert (await client.result(task_id, timeout=10)).status == TaskStatus.SUCCEEDED


async def test_gather_and_as_completed_follow_many_tasks_with_one_deadline(
    client: HandoffClient, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """as_completed yields in finishing order (finished ones first); gather returns in the order asked."""
    async with running_collector(js):
        ids = [await client.submit(Sleep(duration_s=0), task_id=f"many-{i}") for i in range(30)]
        await publish(js, [finished(ids[0], at=utcnow())])
        order: list[str] = []
        async with aclosing(client.as_completed(ids, timeout=30)) as finishes:
            async for result in finishes:
                order.append(result.task_id)
                if len(order) == 1:  # finish the rest in reverse, after the watch has started
                    await publish(js, [finished(t, at=utcnow()) for t in reversed(ids[1:])], concurrency=1)
        gathered = await client.gather([*ids, ids[3]], timeout=5)
    assert order == [ids[0], *reversed(ids[1:])]
    assert [r.task_id for r in gathered] == [*ids, ids[3]]
    with pytest.raises(UnknownTaskError) as info:
        await client.gather([ids[0], "ghost-1", "ghost-2"], timeout=5)
    assert set(info.value.task_ids) == {"ghost-1", "ghost-2"}
    with pytest.raises(ResultTimeoutError) as timeout_info:
        await client.gather([ids[0], await client.submit(Sleep(duration_s=9), task_id="still-going")], timeout=0.5)
    assert timeout_info.value.pending == ("still-going",)


async def test_status_follows_a_task_from_queued_to_final(
    client: HandoffClient, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """status() shows queued, then running with replica, attempt and progress, then final with timings."""
    task_id = await client.submit(Sleep(duration_s=0), labels={"module": "m.py"})
    early = await client.status(task_id)  # no collector yet: built from the stream
    assert early.state == TaskState.QUEUED and early.labels == {"module": "m.py"}
    async with running_collector(js):
        await publish(js, [started(task_id, replica="gen-7", at=utcnow()), progress(task_id, seq=0, at=utcnow())])

        async def running() -> TaskRecord | None:
            record = await client.status(task_id)
            return record if record.progress_count == 1 and record.replica_id else None

        record = await eventually(running, what="running record with progress")
        assert record.state == TaskState.RUNNING and record.replica_id == "gen-7" and record.attempt == 1
        assert record.last_progress is not None and record.last_progress.stage == "stage-0"
        assert await client.cancel(task_id, reason="not needed") is True
        await publish(js, [finished(task_id, status=TaskStatus.CANCELLED, at=utcnow())])

        async def final() -> bool:
            return (await client.status(task_id)).final

        await eventually(final, what="final record")
    record = await client.status(task_id)
    assert record.state == TaskState.CANCELLED and record.timings.total_s is not None
    assert await client.cancel(task_id) is False  # already final: nothing to cancel


async def test_a_task_submitted_while_the_feed_is_live_is_awaited_without_a_look_up(
    nc: NATS, client: HandoffClient, js: JetStreamContext, topology: Topology
) -> None:
    """Its finish can only follow the submit, so the feed has it, even when it finished before the wait began."""
    first = await client.submit(Sleep(duration_s=0))
    await publish(js, lifecycle(first)[1:])
    await client.result(first, timeout=10)  # starts the client's result feed
    task_id = await client.submit(Sleep(duration_s=0))
    await publish(js, lifecycle(task_id)[1:])  # finished before anyone waits for it
    await asyncio.sleep(0.3)  # the finish reaches the feed, which keeps it for the wait
    sent = nc.stats["out_msgs"]
    result = await client.result(task_id, timeout=10)
    assert result.task_id == task_id and result.status == TaskStatus.SUCCEEDED
    assert nc.stats["out_msgs"] == sent  # no look-up: nothing sent to the server
