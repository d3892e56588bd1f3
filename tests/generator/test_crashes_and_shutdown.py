"""A killed replica's task moves to another replica; a stopped replica finishes or hands back its tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from pathlib import Path

import nats.js.errors
import pytest
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from handoff.broker.embedded import EmbeddedNats
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.events import TaskStatus
from handoff.schemas.records import presence_decoder
from handoff.schemas.topology import Topology
from tests.generator.processes import ReplicaProcess
from tests.generator.support import finished_events, replica, sleep_task, started_events, submit
from tests.support.nats import FAST_TOPOLOGY, eventually
from tests.support.net import free_port, http_get_async


@contextlib.contextmanager
def processes(url: str, log_dir: Path, *replica_ids: str, **extra: str) -> Iterator[dict[str, ReplicaProcess]]:
    started = {rid: ReplicaProcess(url, rid, log_dir, **extra) for rid in replica_ids}
    try:
        yield started
    finally:
        for proc in started.values():
            proc.close()


async def pull_requests_waiting(js: JetStreamContext, count: int) -> None:
    async def probe() -> bool:
        info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
        return (info.num_waiting or 0) >= count

    await eventually(probe, timeout_s=30, what=f"{count} replicas pulling")


@pytest.mark.slow
async def test_a_replica_killed_mid_task_has_its_task_finished_by_another_replica(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """SIGKILL of the replica running a task: another replica runs it after ack_wait; one TaskFinished."""
    with processes(nats_server.url, tmp_path, "proc-a", "proc-b") as procs:
        await pull_requests_waiting(js, 2)
        await submit(js, sleep_task("t-crash", 3.0))
        (first,) = await eventually(lambda: started_events(js, "t-crash"), what="the first start")
        victim = procs[first.replica_id]
        victim.kill()
        killed_at = utcnow()
        survivor = next(rid for rid in procs if rid != first.replica_id)
        (finished,) = await eventually(
            lambda: finished_events(js, "t-crash"), timeout_s=20, what="the task to finish elsewhere"
        )
        logs = procs[survivor].log()
    started = await started_events(js, "t-crash")
    assert finished.status is TaskStatus.SUCCEEDED, logs
    assert finished.replica_id == survivor and finished.attempt == 2
    assert [(s.replica_id, s.attempt) for s in started] == [(first.replica_id, 1), (survivor, 2)]
    # redelivered only after ack_wait: the dead replica's heartbeats had stopped
    assert (started[1].started_at - killed_at).total_seconds() >= FAST_TOPOLOGY.ack_wait_s * 0.5
    assert len(await finished_events(js, "t-crash")) == 1


async def test_sigterm_lets_a_short_task_finish_and_exits_zero(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """SIGTERM while a 1 s task runs: the task finishes on that replica within the grace, exit code 0."""
    with processes(nats_server.url, tmp_path, "term-a", HANDOFF_SHUTDOWN_GRACE_S="10") as procs:
        await pull_requests_waiting(js, 1)
        await submit(js, sleep_task("t-grace", 1.0))
        await eventually(lambda: started_events(js, "t-grace"), timeout_s=15, what="the task to start")
        code = await asyncio.to_thread(procs["term-a"].terminate)
        log = procs["term-a"].log()
    (finished,) = await finished_events(js, "t-grace")
    assert code == 0, log
    assert finished.status is TaskStatus.SUCCEEDED and finished.replica_id == "term-a"
    info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
    assert info.num_ack_pending == 0


async def test_a_running_replica_is_ready_on_its_health_port_and_listed_in_the_replicas_bucket(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """With HANDOFF_HEALTH_PORT set, /readyz answers 200 once serving; its presence entry names its slots."""
    port = free_port()
    extra = {"HANDOFF_HEALTH_PORT": str(port), "HANDOFF_GENERATOR_SLOTS": "3", "HANDOFF_PRESENCE_INTERVAL_S": "0.2"}
    with processes(nats_server.url, tmp_path, "healthy", **extra):
        await pull_requests_waiting(js, 1)
        assert (await http_get_async(port, "/readyz"))[0] == 200
        kv = await js.key_value(names.REPLICAS_BUCKET)
        entry = await eventually(lambda: _presence(kv, "healthy"), what="the presence entry")
    presence = presence_decoder.decode(entry or b"")
    assert presence.slots == 3 and presence.ready


async def _presence(kv: KeyValue, replica_id: str) -> bytes | None:
    try:
        return (await kv.get(replica_id)).value
    except nats.js.errors.KeyNotFoundError:
        return None


async def test_shutdown_hands_back_a_task_that_outlives_the_grace_period_at_once(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """Past the grace period a running task is interrupted, nothing is published for it and its submit is
    naked, so another replica starts it right away rather than after ack_wait."""
    async with contextlib.AsyncExitStack() as leaving_stack:
        leaving = await leaving_stack.enter_async_context(
            replica(nats_server.url, replica_id="leave", shutdown_grace_s=0.2)
        )
        await submit(js, sleep_task("t-handback", 4.0))
        await eventually(lambda: started_events(js, "t-handback"), what="the first start")
        async with replica(nats_server.url, replica_id="stay"):
            stop_at = utcnow()
            await leaving_stack.aclose()  # stop() and wait for the graceful shutdown
            assert leaving.stats.released == 1 and leaving.stats.finished_total == 0
            starts = await eventually(
                lambda: _at_least(started_events(js, "t-handback"), 2), timeout_s=10, what="the second start"
            )
            (finished,) = await eventually(lambda: finished_events(js, "t-handback"), timeout_s=10, what="finish")
    assert [(s.replica_id, s.attempt) for s in starts] == [("leave", 1), ("stay", 2)]
    assert (starts[1].started_at - stop_at).total_seconds() < FAST_TOPOLOGY.ack_wait_s
    assert finished.replica_id == "stay" and finished.status is TaskStatus.SUCCEEDED


async def _at_least[T](events: Awaitable[list[T]], n: int) -> list[T]:
    """The events once there are ``n`` of them; an empty (falsy) list before that."""
    found = await events
    return found if len(found) >= n else []
