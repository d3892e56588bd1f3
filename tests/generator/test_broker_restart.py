"""A nats-server killed and restarted mid-run (file storage): every task still finishes exactly once."""

from __future__ import annotations

import asyncio
import contextlib

import nats.errors
import pytest
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.schemas import names
from handoff.schemas.events import TaskStatus
from handoff.schemas.topology import Topology
from tests.generator.support import finished_events, replica, sleep_task, submit
from tests.support.nats import eventually

DOWNTIME_S = 1.0


@pytest.mark.slow
async def test_every_task_finishes_exactly_once_across_a_broker_crash_and_restart(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """SIGKILL of nats-server while 2 replicas run 24 tasks, restart on the same store: 24 TaskFinished, one each."""
    before = [f"rs-{i:02d}" for i in range(20)]
    after = [f"rs-late-{i}" for i in range(4)]
    async with contextlib.AsyncExitStack() as stack:
        replicas = [
            await stack.enter_async_context(replica(nats_server.url, replica_id=f"rs-{n}", slots=3)) for n in range(2)
        ]
        for task_id in before:
            await submit(js, sleep_task(task_id, 0.5))

        async def some_finished() -> bool:
            return len(await finished_events(js)) >= 4

        await eventually(some_finished, what="a few tasks to finish before the crash")
        nats_server.kill()
        await asyncio.sleep(DOWNTIME_S)  # the outage itself: replicas keep running tasks and retry publishes
        await asyncio.to_thread(nats_server.start)
        await eventually(lambda: _connected(js), timeout_s=15, what="the test client to reconnect")
        for task_id in after:
            await submit(js, sleep_task(task_id, 0.2))

        async def all_finished() -> bool:
            return len(await finished_events(js)) >= len(before) + len(after)

        await eventually(all_finished, timeout_s=60, interval_s=0.25, what="every task to finish")

        async def all_acked() -> bool:
            info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
            return info.num_ack_pending == 0 and info.num_pending == 0

        await eventually(all_acked, timeout_s=15, what="every submit to be acked")
        executions = sum(r.stats.started for r in replicas)
    finished = await finished_events(js)
    assert sorted(f.task_id for f in finished) == sorted(before + after)
    assert all(f.status is TaskStatus.SUCCEEDED for f in finished), [f for f in finished if f.error]
    assert executions >= len(before) + len(after)


async def _connected(js: JetStreamContext) -> bool:
    try:
        await js.stream_info(names.EVENTS_STREAM)
    except (TimeoutError, nats.errors.Error):  # still reconnecting
        return False
    return True
