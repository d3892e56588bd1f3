"""The collector carries on after its own restart and after a nats-server restart, rebuilding nothing."""

from __future__ import annotations

from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.schemas.topology import Topology
from tests.collector.conftest import RunningCollector
from tests.collector.lifecycle import Wire, lifecycle, publish
from tests.collector.probes import collector_caught_up, run_finished, task_record, task_revision
from tests.support.nats import eventually


def run_of(prefix: str, n: int, run_id: str) -> list[Wire]:
    return [w for i in range(n) for w in lifecycle(f"{prefix}{i}", run_id=run_id, run_size=2 * n)]


async def all_final(js: JetStreamContext, task_ids: list[str]) -> bool:
    for task_id in task_ids:
        record = await task_record(js, task_id)
        if record is None or not record.final:
            return False
    return True


async def test_a_new_collector_replica_continues_where_the_stopped_one_left_off(
    js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> None:
    """Records written before the restart are not rewritten; the run spanning the restart finishes once."""
    first, second = run_of("a", 20, "span"), run_of("b", 20, "span")
    async with running_collector(js, replica_id="before") as before:
        await publish(js, first)
        await eventually(lambda: all_final(js, [f"a{i}" for i in range(20)]), what="first half folded")
        await eventually(lambda: collector_caught_up(js), what="first half acknowledged")
    revisions = {f"a{i}": await task_revision(js, f"a{i}") for i in range(20)}
    await publish(js, second)
    async with running_collector(js, replica_id="after") as after:
        event = await eventually(lambda: run_finished(js, "span"), what="RunFinished across the restart")
        await eventually(lambda: collector_caught_up(js), what="second half acknowledged")
    assert len(event.tasks) == 40
    assert after.stats.events_folded == len(second)  # nothing from before the restart was read again
    assert before.stats.events_folded == len(first)
    assert {t: await task_revision(js, t) for t in revisions} == revisions


async def test_the_collector_resumes_after_a_nats_server_restart(
    js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats, running_collector: RunningCollector
) -> None:
    """Killing and restarting nats-server (same port and store) loses no record and no acknowledged event."""
    first, second = run_of("k", 10, "crash"), run_of("m", 10, "crash")
    async with running_collector(js):
        await publish(js, first)
        await eventually(lambda: all_final(js, [f"k{i}" for i in range(10)]), what="records before the crash")
        nats_server.kill()
        nats_server.start()

        async def republished() -> bool:
            try:
                await publish(js, second)
            except (NatsError, TimeoutError):
                return False  # still reconnecting; publishing again is safe (message ids)
            return True

        await eventually(republished, timeout_s=30, interval_s=0.5, what="publishing after the restart")
        event = await eventually(lambda: run_finished(js, "crash"), timeout_s=30, what="RunFinished after restart")
    assert sorted(t.task_id for t in event.tasks) == sorted([f"k{i}" for i in range(10)] + [f"m{i}" for i in range(10)])
