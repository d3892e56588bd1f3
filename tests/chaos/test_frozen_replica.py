"""Chaos: a replica frozen (SIGSTOP) past ack_wait while running a task, and resumed (SIGCONT) while the
redelivered run goes on. One finish is published, seen, counted and recorded; the other run stops."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import ClientSettings, HandoffClient
from handoff.common.settings import NatsSettings
from handoff.schemas import names
from handoff.schemas.codec import Decoder
from handoff.schemas.events import Sleep, TaskFinished, TaskStatus
from handoff.schemas.topology import Topology
from tests.chaos.conftest import CHAOS_TOPOLOGY
from tests.collector.conftest import RunningCollector
from tests.collector.probes import task_record
from tests.generator.processes import ReplicaProcess
from tests.generator.support import started_events
from tests.support.nats import eventually
from tests.support.net import free_port, http_get_async

_finished: Decoder[TaskFinished] = Decoder(TaskFinished)
RUN_S = 8.0  # longer than ack_wait plus the time the redelivery takes to start


async def finishes_counted(port: int) -> float:
    """handoff_tasks_finished_total of one replica, from its /metrics."""
    status, body = await http_get_async(port, "/metrics")
    assert status == 200, status
    return sum(float(v) for v in re.findall(r"^handoff_tasks_finished_total\{[^}]*\} (\S+)$", body, re.MULTILINE))


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_frozen_and_resumed_replica_publishes_no_second_finish(
    nats_server: EmbeddedNats,
    nc: NATS,
    js: JetStreamContext,
    topology: Topology,
    running_collector: RunningCollector,
    tmp_path: Path,
) -> None:
    """SIGSTOP past ack_wait, SIGCONT during the redelivered run: one finish on the wire, in metrics and record."""
    seen: list[TaskFinished] = []

    async def on_finished(msg: Msg) -> None:
        seen.append(_finished.decode(msg.data))

    await nc.subscribe(names.FINISHED_FILTER, cb=on_finished)
    ports = {f"frozen-r{i}": free_port() for i in range(2)}
    env = {"HANDOFF_GENERATOR_SLOTS": "1", "HANDOFF_MAX_DELIVER": str(CHAOS_TOPOLOGY.max_deliver)}
    procs = {
        rid: ReplicaProcess(nats_server.url, rid, tmp_path, **env, HANDOFF_HEALTH_PORT=str(port))
        for rid, port in ports.items()
    }
    client = HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(), submitter="chaos"))
    try:
        async with running_collector(js, replica_id="frozen-collector"):

            async def ready() -> bool:
                return all("generator ready" in p.log() for p in procs.values())

            await eventually(ready, timeout_s=30, what="both replicas ready")
            task_id = await client.submit(Sleep(duration_s=RUN_S))
            [first] = await eventually(lambda: started_events(js, task_id), timeout_s=15, what="the first run")
            frozen = procs[first.replica_id]
            frozen.proc.send_signal(signal.SIGSTOP)
            try:
                await eventually(
                    lambda: _two_starts(js, task_id),
                    timeout_s=30,
                    what="the redelivered run to start on the other replica",
                )
            finally:
                frozen.proc.send_signal(signal.SIGCONT)
            finished = await client.result(task_id, timeout=60)

            async def both_idle() -> bool:
                info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
                return info.num_ack_pending == 0 and info.num_pending == 0

            await eventually(both_idle, timeout_s=30, what="no submit left in flight")

            async def recorded() -> bool:
                record = await task_record(js, task_id)
                return record is not None and record.final

            await eventually(recorded, what="the collector's final record")
            record = await task_record(js, task_id)
        await nc.flush()
        assert finished.status is TaskStatus.SUCCEEDED
        assert [(f.replica_id, f.attempt) for f in seen] == [(finished.replica_id, finished.attempt)]
        counted = [await finishes_counted(port) for port in ports.values()]
        assert sum(counted) == 1, counted
        assert record is not None and (record.replica_id, record.attempt) == (finished.replica_id, finished.attempt)
        loser = next(p for rid, p in procs.items() if rid != finished.replica_id)
        assert "another run finished this task while this one ran" in loser.log(), loser.log()[-3000:]
    finally:
        for proc in procs.values():
            proc.close()


async def _two_starts(js: JetStreamContext, task_id: str) -> bool:
    return len(await started_events(js, task_id)) >= 2
