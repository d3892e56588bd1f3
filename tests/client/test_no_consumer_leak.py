"""Waiting on results leaves no ephemeral consumers behind on the server."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import HandoffClient
from handoff.schemas import names
from handoff.schemas.events import Sleep
from handoff.schemas.topology import Topology
from tests.generator.support import replica
from tests.support.nats import eventually


async def consumers(js: JetStreamContext) -> tuple[int, int]:
    events = await js.stream_info(names.EVENTS_STREAM)
    records = await js.stream_info(names.kv_stream(names.TASKS_BUCKET))
    return events.state.consumer_count, records.state.consumer_count


async def test_waits_that_ended_leave_only_the_clients_one_result_consumer_until_it_closes(
    client: HandoffClient, js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats
) -> None:
    """After result(), as_completed() stopped early and watch(), the client's one result consumer is left; after
    close() only the durables are."""
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
    events, records = before
    assert await consumers(js) == (events + 1, records)
    await client.close()
    assert await consumers(js) == before


async def all_consumers(js: JetStreamContext) -> int:
    """Every consumer on the server, across all streams (the JetStream API's account info)."""
    return (await js.account_info()).consumers


async def test_many_concurrent_result_waits_share_one_consumer(
    client: HandoffClient, nc: NATS, js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats
) -> None:
    """40 result() calls waiting at once create one consumer on the server in all; each gets its own result."""
    created: list[str] = []

    async def on_created(msg: Msg) -> None:
        created.append(msg.subject)

    watched = (names.EVENTS_STREAM, names.kv_stream(names.TASKS_BUCKET))
    advisories = [await nc.subscribe(f"$JS.EVENT.ADVISORY.CONSUMER.CREATED.{s}.*", cb=on_created) for s in watched]
    before = await all_consumers(js)
    ids = [await client.submit(Sleep(duration_s=0.01), task_id=f"shared-{i}") for i in range(40)]
    waits = [asyncio.create_task(client.result(task_id, timeout=30)) for task_id in ids]

    async def all_waiting() -> bool:
        return client.waiting_results == len(ids) and await all_consumers(js) > before

    await eventually(all_waiting, what="every result() waiting")
    async with replica(nats_server.url, replica_id="g1", slots=8):
        results = await asyncio.wait_for(asyncio.gather(*waits), timeout=30)
    assert [r.task_id for r in results] == ids
    assert await all_consumers(js) == before + 1
    await nc.flush()
    for sub in advisories:
        await sub.unsubscribe()
    assert len(created) == 1, created
