"""Results survive a collector restart and a nats-server restart, for callers before and after the finish."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import ClientSettings, HandoffClient
from handoff.client.errors import HandoffUnavailableError
from handoff.common.clock import utcnow
from handoff.common.settings import NatsSettings
from handoff.schemas.events import Sleep, TaskStatus
from handoff.schemas.topology import Topology
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import Wire, finished, lifecycle, publish, started
from tests.collector.probes import task_record
from tests.support.nats import eventually


async def record_final(js: JetStreamContext, task_id: str) -> bool:
    record = await task_record(js, task_id)
    return record is not None and record.final


async def publish_when_back(js: JetStreamContext, wires: list[Wire]) -> None:
    async def published() -> bool:
        try:
            await publish(js, wires)
        except (NatsError, TimeoutError):
            return False  # still reconnecting; message ids make a second try safe
        return True

    await eventually(published, timeout_s=30, interval_s=0.3, what="publishing after the restart")


async def test_results_survive_a_collector_restart(
    client: HandoffClient, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """A result finished before the restart is returned at once; a caller waiting across it gets its result."""
    async with running_collector(js, replica_id="old"):
        before = await client.submit(Sleep(duration_s=0))
        await publish(js, lifecycle(before)[1:])
        await eventually(lambda: record_final(js, before), what="finished before the restart")
        during = await client.submit(Sleep(duration_s=0))
        await publish(js, [started(during, at=utcnow())])
        waiting = asyncio.create_task(client.result(during, timeout=30))
    # no collector at all here
    await publish(js, [finished(during, at=utcnow())])
    async with running_collector(js, replica_id="new"):
        assert (await client.result(before, timeout=1)).status == TaskStatus.SUCCEEDED
        assert (await asyncio.wait_for(waiting, timeout=10)).task_id == during
        await eventually(lambda: record_final(js, during), what="the new replica folds what happened meanwhile")


async def test_results_survive_a_nats_server_restart(
    client: HandoffClient,
    js: JetStreamContext,
    topology: Topology,
    nats_server: EmbeddedNats,
    running_collector: RunningCollector,
) -> None:
    """After kill and restart of nats-server, an old result comes at once and a waiting caller gets its result."""
    async with running_collector(js):
        before = await client.submit(Sleep(duration_s=0))
        await publish(js, lifecycle(before)[1:])
        await eventually(lambda: record_final(js, before), what="finished before the restart")
        during = await client.submit(Sleep(duration_s=0))
        waiting = asyncio.create_task(client.result(during, timeout=60))
        await asyncio.sleep(0.2)  # let the watch subscribe before the crash
        nats_server.kill()
        await asyncio.to_thread(nats_server.start)
        await publish_when_back(js, [finished(during, at=utcnow())])
        assert (await asyncio.wait_for(waiting, timeout=30)).task_id == during
        assert (await client.result(before, timeout=5)).status == TaskStatus.SUCCEEDED
        await eventually(lambda: record_final(js, during), timeout_s=30, what="collector folds after the restart")


async def test_a_result_asked_for_while_the_server_is_down_arrives_once_it_is_back(
    client: HandoffClient,
    js: JetStreamContext,
    topology: Topology,
    nats_server: EmbeddedNats,
    running_collector: RunningCollector,
) -> None:
    """Look-ups that fail during the outage are retried within the caller's timeout instead of failing."""
    async with running_collector(js):
        task_id = await client.submit(Sleep(duration_s=0))
        await publish(js, lifecycle(task_id)[1:])
        await eventually(lambda: record_final(js, task_id), what="finished before the outage")
    nats_server.kill()
    waiting = asyncio.create_task(client.result(task_id, timeout=30))
    await asyncio.sleep(1.0)  # several look-ups fail meanwhile
    assert not waiting.done()
    await asyncio.to_thread(nats_server.start)
    assert (await asyncio.wait_for(waiting, timeout=20)).status == TaskStatus.SUCCEEDED


async def test_a_look_up_rides_out_an_outage_longer_than_the_submit_timeout_within_the_callers_timeout(
    nc: NATS,
    js: JetStreamContext,
    topology: Topology,
    nats_server: EmbeddedNats,
    running_collector: RunningCollector,
) -> None:
    """``result(timeout=30)`` keeps retrying through an outage of several HANDOFF_SUBMIT_TIMEOUT_S, not just one."""
    settings = ClientSettings(
        nats=NatsSettings(publish_timeout_s=0.5), submitter="tests", submit_timeout_s=0.3, watch_heartbeat_s=0.5
    )
    client = HandoffClient(nc, settings=settings)
    async with running_collector(js):
        task_id = await client.submit(Sleep(duration_s=0))
        await publish(js, lifecycle(task_id)[1:])
        await eventually(lambda: record_final(js, task_id), what="finished before the outage")
    nats_server.kill()
    waiting = asyncio.create_task(client.result(task_id, timeout=30))
    await asyncio.sleep(1.5)  # five submit timeouts of failing look-ups
    assert not waiting.done(), waiting.exception() if waiting.done() else None
    await asyncio.to_thread(nats_server.start)
    assert (await asyncio.wait_for(waiting, timeout=20)).status == TaskStatus.SUCCEEDED


async def test_a_look_up_that_never_gets_an_answer_ends_unavailable_at_the_callers_deadline(
    nc: NATS, js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats
) -> None:
    """When NATS stays away past the caller's timeout the wait ends with HandoffUnavailableError, not a timeout."""
    settings = ClientSettings(nats=NatsSettings(publish_timeout_s=0.5), submitter="tests", submit_timeout_s=30.0)
    client = HandoffClient(nc, settings=settings)
    nats_server.kill()
    with pytest.raises(HandoffUnavailableError):
        await client.result("t-never", timeout=1.0)
