"""Runs through the client: sealing, waiting for RunFinished, watching lifecycle events live or from the start."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext

from handoff.client import HandoffClient, ResultTimeoutError, UnknownRunError
from handoff.common.clock import utcnow
from handoff.schemas.events import RunFinished, Sleep, TaskFinished, TaskStarted, TaskStatus, TaskSubmitted
from handoff.schemas.topology import Topology
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import finished, lifecycle, publish, started


async def test_a_sealed_run_is_awaited_to_its_run_finished(
    client: HandoffClient, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """Tasks submitted without a size, sealed afterwards; wait_run returns the RunFinished listing them."""
    async with running_collector(js):
        ids = [await client.submit(Sleep(duration_s=0), run_id="fan-out") for _ in range(5)]
        waiting = asyncio.create_task(client.wait_run("fan-out", timeout=30))
        await publish(js, [w for t in ids for w in lifecycle(t, run_id="fan-out")[1:]])
        await asyncio.sleep(0.3)
        assert not waiting.done()  # no size known yet
        await client.seal_run("fan-out", 5)
        event = await asyncio.wait_for(waiting, timeout=10)
        again = await client.wait_run("fan-out", timeout=1)  # already finished: at once
        run = await client.run_status("fan-out")
    assert sorted(t.task_id for t in event.tasks) == sorted(ids) and again == event
    assert event.counts == {TaskStatus.SUCCEEDED: 5}
    assert run is not None and run.published_at is not None and run.expected_size == 5


async def test_waiting_for_an_unknown_run_fails_at_once_and_an_unfinished_one_times_out(
    client: HandoffClient, js: JetStreamContext, topology: Topology
) -> None:
    """UnknownRunError for a run nobody started; ResultTimeoutError for a run still going."""
    async with asyncio.timeout(5):
        with pytest.raises(UnknownRunError):
            await client.wait_run("no-such-run", timeout=60)
    await client.submit(Sleep(duration_s=0), run_id="going", run_size=2)
    with pytest.raises(ResultTimeoutError) as info:
        await client.wait_run("going", timeout=0.5)
    assert info.value.pending == ("going",)


async def test_watch_yields_a_runs_events_live_or_from_the_start_and_ends_with_run_finished(
    client: HandoffClient, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """A live watcher sees what happens after it started; a from_start watcher replays everything."""
    first = await client.submit(Sleep(duration_s=0), run_id="watched", run_size=2)
    live: list[object] = []

    async def follow() -> None:
        async for event in client.watch("watched"):
            live.append(event)

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.3)  # the live watcher is subscribed
    async with running_collector(js):
        second = await client.submit(Sleep(duration_s=0), run_id="watched", run_size=2)
        await publish(
            js, [started(first, run_id="watched", at=utcnow()), finished(first, run_id="watched", at=utcnow())]
        )
        await publish(js, [finished(second, run_id="watched", at=utcnow())])
        await asyncio.wait_for(follower, timeout=15)
        replay = [event async for event in client.watch("watched", from_start=True)]
    assert [type(e) for e in live] == [TaskSubmitted, TaskStarted, TaskFinished, TaskFinished, RunFinished]
    assert [type(e) for e in replay] == [TaskSubmitted, *[type(e) for e in live]]
    final = replay[-1]
    assert isinstance(final, RunFinished) and {t.task_id for t in final.tasks} == {first, second}
