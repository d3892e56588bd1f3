"""Attempts count runs that started: submits handed back unrun (a full replica, a shutdown) burn no attempt."""

from __future__ import annotations

from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.schemas import names
from handoff.schemas.events import ErrorCode, TaskStatus
from handoff.schemas.topology import Topology
from tests.generator.support import finished_events, replica, sleep_task, started_events, submit
from tests.support.nats import eventually


async def hand_back(js: JetStreamContext, times: int) -> None:
    """Take the waiting submit off the generators' consumer and nak it unrun, as a replica with no free slot does."""
    sub = await js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=names.EVENTS_STREAM)
    try:
        for _ in range(times):
            [msg] = await sub.fetch(1, timeout=5)
            await msg.nak()
    finally:
        await sub.unsubscribe()


async def test_a_submit_handed_back_twice_still_starts_as_attempt_1(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """Two hand-backs before any run: the first real run is attempt 1 and finishes as attempt 1."""
    await submit(js, sleep_task("t-handed-back", 0.0))
    await hand_back(js, times=2)
    async with replica(nats_server.url, replica_id="r1"):
        found = await eventually(lambda: finished_events(js, "t-handed-back"), what="the task to finish")
    assert [s.attempt for s in await started_events(js, "t-handed-back")] == [1]
    assert found[0].status is TaskStatus.SUCCEEDED and found[0].attempt == 1


async def test_a_transiently_failing_task_gets_all_its_runs_after_hand_backs(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """max_attempts=3 means three runs, however many times the submit was handed back before the first."""
    task = sleep_task("t-flaky-late", 0.0, fail_with=ErrorCode.LLM_RATE_LIMITED, fail_retryable=True, max_attempts=3)
    await submit(js, task)
    await hand_back(js, times=2)
    async with replica(nats_server.url, replica_id="r1"):
        found = await eventually(lambda: finished_events(js, "t-flaky-late"), timeout_s=20, what="the task to finish")
    assert [s.attempt for s in await started_events(js, "t-flaky-late")] == [1, 2, 3]
    assert found[0].status is TaskStatus.FAILED and found[0].attempt == 3
