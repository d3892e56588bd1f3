"""The two series the dashboard adds: failures by error code, and the queue depth seen by a replica."""

from __future__ import annotations

from nats.js import JetStreamContext
from prometheus_client import REGISTRY

from handoff.broker.embedded import EmbeddedNats
from handoff.generator.presence import PresenceReporter
from handoff.schemas.topology import Topology
from tests.generator.support import finished_events, in_future, replica, sleep_task, submit
from tests.support.nats import eventually


async def test_a_task_that_times_out_is_counted_under_its_error_code(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """handoff_tasks_failed_total{code="timed_out"} grows by one for a task past its deadline."""
    labels = {"kind": "sleep", "code": "timed_out"}
    before = REGISTRY.get_sample_value("handoff_tasks_failed_total", labels) or 0.0
    async with replica(nats_server.url):
        await submit(js, sleep_task("t-late", 30.0, deadline=in_future(0.5)))
        (finished,) = await eventually(lambda: finished_events(js, "t-late"), timeout_s=10, what="the timeout")
    assert finished.error is not None and finished.error.code.value == "timed_out"
    assert REGISTRY.get_sample_value("handoff_tasks_failed_total", labels) == before + 1


async def test_the_presence_loop_publishes_the_number_of_waiting_submits(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """With every slot busy, the submits behind them show up in handoff_queue_depth."""
    async with replica(nats_server.url, slots=1) as generator:
        for n in range(4):
            await submit(js, sleep_task(f"t-wait-{n}", 5.0))
        async with PresenceReporter(js, generator.stats, interval_s=0.2):

            async def depth() -> bool:
                return (REGISTRY.get_sample_value("handoff_queue_depth") or 0) >= 2

            await eventually(depth, timeout_s=10, what="a queue depth of at least 2")
        generator.stop()
