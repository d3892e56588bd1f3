"""Result retention: a finished record lives for result_ttl_s, then its id is unknown (an error, not a hang)."""

from __future__ import annotations

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.broker.provision import apply_topology
from handoff.client import HandoffClient, UnknownTaskError
from handoff.schemas.events import Sleep, TaskStatus
from handoff.schemas.topology import build_topology
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import lifecycle, publish
from tests.collector.probes import task_record
from tests.support.nats import FAST_TOPOLOGY, eventually

SHORT_RETENTION = msgspec.structs.replace(FAST_TOPOLOGY, result_ttl_s=2.0, duplicate_window_s=1.0)


async def test_an_expired_result_gives_unknown_task_not_a_hang(
    client: HandoffClient, js: JetStreamContext, running_collector: RunningCollector
) -> None:
    """With a 2 s retention the result is there at first, and after expiry result() raises UnknownTaskError."""
    await apply_topology(js, build_topology(SHORT_RETENTION))
    async with running_collector(js):
        task_id = await client.submit(Sleep(duration_s=0))
        await publish(js, lifecycle(task_id)[1:])

        async def folded() -> bool:
            record = await task_record(js, task_id)
            return record is not None and record.final

        await eventually(folded, what="record final")
        assert (await client.result(task_id, timeout=1)).status == TaskStatus.SUCCEEDED

    async def expired() -> bool:
        try:
            await client.result(task_id, timeout=30)
        except UnknownTaskError:
            return True
        return False

    await eventually(expired, timeout_s=20, interval_s=0.5, what="record and events expired")
    with pytest.raises(UnknownTaskError):
        await client.status(task_id)
