"""Bounded concurrency: slots per replica, the global cap across replicas, and heartbeats for long tasks."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.schemas.events import TaskStatus
from handoff.schemas.topology import Topology, TopologyParams
from tests.generator.support import finished_events, max_overlap, replica, sleep_task, started_events, submit
from tests.support.nats import FAST_TOPOLOGY, eventually

CAPPED = msgspec.structs.replace(FAST_TOPOLOGY, max_ack_pending=4)


@pytest.fixture
def topology_params() -> TopologyParams:
    return CAPPED


@pytest.mark.slow
async def test_three_replicas_of_two_slots_never_exceed_the_global_cap_and_finish_every_task_once(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """3 replicas x 2 slots under a cap of 4, 40 one-second tasks: <= 4 running, <= 2 per replica, each once."""
    task_ids = [f"cap-{i:02d}" for i in range(40)]
    peaks: dict[str, int] = {}
    async with contextlib.AsyncExitStack() as stack:
        replicas = [
            await stack.enter_async_context(replica(nats_server.url, replica_id=f"rep-{n}", topology=CAPPED))
            for n in range(3)
        ]

        async def sample() -> None:
            while True:
                for generator in replicas:
                    rid = generator.settings.replica_id
                    peaks[rid] = max(peaks.get(rid, 0), generator.slots_in_use)
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        for task_id in task_ids:
            await submit(js, sleep_task(task_id, 1.0))

        async def all_finished() -> bool:
            return len(await finished_events(js)) >= len(task_ids)

        await eventually(all_finished, timeout_s=40, interval_s=0.5, what="40 tasks to finish")
        sampler.cancel()
    finished = await finished_events(js)
    started = {task_id: await started_events(js, task_id) for task_id in task_ids}

    assert sorted(f.task_id for f in finished) == task_ids
    assert all(f.status is TaskStatus.SUCCEEDED for f in finished)
    assert all(len(events) == 1 for events in started.values()), {k: v for k, v in started.items() if len(v) != 1}
    # measured from the events' own timestamps: start of the run to its finish
    by_task = {f.task_id: f for f in finished}
    intervals = [(started[t][0].started_at, by_task[t].finished_at) for t in task_ids]
    assert max_overlap(intervals) <= 4
    for rid in ("rep-0", "rep-1", "rep-2"):
        mine = [(started[t][0].started_at, by_task[t].finished_at) for t in task_ids if by_task[t].replica_id == rid]
        assert max_overlap(mine) <= 2, rid
    # and sampled inside each replica, which also counts the time around the run (lookups, publishes, the ack);
    # a sum across replicas is no invariant: one may start its next task a moment before another's cleanup ends
    assert all(peaks[f"rep-{n}"] <= 2 for n in range(3)), peaks
    assert max_overlap(intervals) >= 3, "the replicas did not run tasks in parallel at all"


async def test_a_task_four_times_longer_than_ack_wait_runs_once(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """Heartbeats every ack_wait/3 keep an 8 s task (ack_wait 2 s) from being redelivered: one start, one finish."""
    duration_s = 4 * CAPPED.ack_wait_s
    async with replica(nats_server.url, replica_id="long-a"), replica(nats_server.url, replica_id="long-b"):
        await submit(js, sleep_task("t-long", duration_s))

        async def finished() -> list:
            return await finished_events(js, "t-long")

        done = await eventually(finished, timeout_s=duration_s + 10, interval_s=0.2, what="the long task")
    started = await started_events(js, "t-long")
    assert len(started) == 1 and started[0].attempt == 1
    assert len(done) == 1 and done[0].status is TaskStatus.SUCCEEDED and done[0].attempt == 1
