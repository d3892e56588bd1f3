"""The collector keeps back the events of an unfinished task for a moment, so that one record write covers its
submit, start and finish; held events are written when due, when more arrive, and when the collector stops."""

from __future__ import annotations

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.records import TaskState
from handoff.schemas.topology import Topology, TopologyParams
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import finished, publish, started, submitted
from tests.collector.probes import collector_caught_up, task_record
from tests.support.nats import FAST_TOPOLOGY, eventually


@pytest.fixture
def topology_params() -> TopologyParams:
    """An ack wait long enough for the 30 s holds below (a hold is capped at a third of it)."""
    return msgspec.structs.replace(FAST_TOPOLOGY, collector_ack_wait_s=120.0)


async def delivered_unacked(js: JetStreamContext, count: int) -> bool:
    """The collector consumer delivered everything and ``count`` events wait for their ack."""
    info = await js.consumer_info(names.EVENTS_STREAM, names.COLLECTOR_CONSUMER)
    return info.num_pending == 0 and info.num_ack_pending == count


async def test_a_tasks_submit_start_and_finish_within_the_hold_are_one_record_write(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """Submit and start are held (no record yet); the finish joins them: one write makes the final record."""
    t0 = utcnow()
    async with running_collector(js, hold_s=30.0) as collector:
        await publish(js, [submitted("held", at=t0), started("held", at=t0)])
        await eventually(lambda: delivered_unacked(js, 2), what="both events pulled and held")
        assert collector.stats.events_folded == 0
        assert await task_record(js, "held") is None  # held back, not lost: unacknowledged meanwhile
        await publish(js, [finished("held", at=t0)])

        async def final() -> bool:
            record = await task_record(js, "held")
            return record is not None and record.final

        await eventually(final, what="the final record")
        assert collector.stats.task_writes == 1
    record = await task_record(js, "held")
    assert record is not None and record.state == TaskState.SUCCEEDED and record.submitted and record.started_at


async def test_an_unfinished_tasks_events_are_written_once_the_hold_ends(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """A task that does not finish soon still gets its queued and running record, ``hold_s`` later."""
    t0 = utcnow()
    async with running_collector(js, hold_s=0.2):
        await publish(js, [submitted("slow", at=t0), started("slow", at=t0)])

        async def running() -> bool:
            record = await task_record(js, "slow")
            return record is not None and record.state == TaskState.RUNNING

        await eventually(running, what="the running record after the hold")


async def test_held_events_are_written_when_the_collector_stops(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """Stopping folds and acknowledges what is held instead of leaving it for a redelivery."""
    t0 = utcnow()
    async with running_collector(js, hold_s=30.0):
        await publish(js, [submitted("stopping", at=t0)])
        await eventually(lambda: delivered_unacked(js, 1), what="the submit pulled and held")
    record = await task_record(js, "stopping")
    assert record is not None and record.state == TaskState.QUEUED
    assert await collector_caught_up(js)
