"""Waiting on results leaves no ephemeral consumers behind on the server."""

from __future__ import annotations

from contextlib import aclosing

from nats.js import JetStreamContext

from schemas import names
from schemas.events import Sleep
from schemas.topology import Topology
from services.broker.embedded import EmbeddedNats
from services.client import HandoffClient
from tests.generator.support import replica


async def consumers(js: JetStreamContext) -> tuple[int, int]:
    events = await js.stream_info(names.EVENTS_STREAM)
    records = await js.stream_info(names.kv_stream(names.TASKS_BUCKET))
    return events.state.consumer_count, records.state.consumer_count


async def test_waits_that_ended_have_deleted_their_consumers(
    client: HandoffClient, js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats
) -> None:
    """After result(), as_completed() stopped early and watch(), only the durables are left on the streams."""
    before = await consumers(js)
    async with replica(nats_server.url, replica_id="g1", slots=4):
        for i in range(20):  # each waits: submitted first, finished later
            task_id = await client.submit(Sleep(duration_s=0.02), task_id=f"leak-{i}")
            assert (await client.result(task_id, timeout=10)).task_id == task_id
        ids = [await client.submit(Sleep(duration_s=0.3), task_id=f"early-{i}", run_id="leaky") for i in range(3)]
        async with aclosing(client.as_completed(ids, timeout=10)) as finishes:
            async for _ in finishes:
                break  # the caller stops after the first one
        async with aclosing(client.watch("leaky", from_start=True, until_finished=False)) as events:
            async for _ in events:
                break
    assert await consumers(js) == before
