"""The generator's look-ups of the last message on a subject (finished events, stored cancels), and of a task's
state before a start in one batch direct get."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from handoff.broker.batch_get import BatchGet
from handoff.broker.embedded import EmbeddedNats
from handoff.broker.requests import Requests
from handoff.generator.publisher import Publisher
from handoff.generator.task_state import BATCH, TaskState, read_task_state
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import TaskStatus
from handoff.schemas.topology import Topology
from tests.generator.support import finished_events, replica, sleep_task, submit
from tests.support.nats import eventually


async def allow_direct(js: JetStreamContext, stream: str, allowed: bool) -> None:
    config = (await js.stream_info(stream)).config
    await js.update_stream(StreamConfig.from_response({**config.as_dict(), "allow_direct": allowed}))
    assert (await js.stream_info(stream)).config.allow_direct is allowed


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("direct", [True, False])
async def test_the_last_message_on_a_subject_is_found_with_or_without_direct_gets(
    nc: NATS, js: JetStreamContext, topology: Topology, direct: bool, lean: bool
) -> None:
    """Direct gets where the stream allows them, the JSON API where it does not: same answers either way, through
    the connection's own reply subscription (lean) or nats-py's requests."""
    await allow_direct(js, names.EVENTS_STREAM, direct)
    subject = names.task_subject(None, "look", names.EventType.FINISHED)
    await js.publish(subject, b"first")
    await js.publish(subject, b"second")
    publisher = Publisher(js, timeout_s=2.0, abort=asyncio.Event(), requests=Requests(nc) if lean else None)
    missing = names.task_subject(None, "nobody", names.EventType.FINISHED)
    async with asyncio.timeout(10):  # an unanswered kind of look-up would be retried for ever
        found = await publisher.last_on_subject(names.EVENTS_STREAM, subject)
        absent = await publisher.last_on_subject(names.EVENTS_STREAM, missing)
    assert found is not None and found.data == b"second" and found.subject == subject
    assert absent is None


async def test_a_redelivered_finished_task_is_recognised_on_a_stream_without_direct_gets(
    js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats
) -> None:
    """A submit re-published after its task finished is acked without a second run, via the API look-up."""
    await allow_direct(js, names.EVENTS_STREAM, False)
    await allow_direct(js, names.CONTROL_STREAM, False)
    async with replica(nats_server.url, replica_id="g1") as generator:
        await submit(js, sleep_task("once", 0.0))
        await eventually(lambda: finished_events(js, "once"), what="the task's TaskFinished")
        subject = names.task_subject(None, "once", names.EventType.SUBMITTED)
        await js.publish(subject, encode(sleep_task("once", 0.0)))  # a new message (no msg id): not de-duplicated

        async def acked_as_finished() -> bool:
            return generator.stats.already_finished >= 1

        await eventually(acked_as_finished, what="the second submit acked as already finished")
    finishes = await finished_events(js, "once")
    assert [f.status for f in finishes] == [TaskStatus.SUCCEEDED]
    assert generator.stats.started == 1


async def test_a_tasks_state_before_a_start_is_read_in_one_request(
    nc: NATS, js: JetStreamContext, topology: Topology
) -> None:
    """Other runs' submits of the id, the last start and the finish come back from one batch direct get."""
    task = sleep_task("state", 0.0, run_id="own")
    await js.publish(names.task_subject("other", "state", names.EventType.SUBMITTED), b"theirs")
    await js.publish(names.task_subject("own", "state", names.EventType.SUBMITTED), encode(task))
    started = names.task_subject("own", "state", names.EventType.STARTED)
    await js.publish(started, b"start 1")
    await js.publish(started, b"start 2")
    await js.publish(names.task_subject("own", "state", names.EventType.FINISHED), b"done")
    publisher = Publisher(js, timeout_s=2.0, abort=asyncio.Event(), batch_get=BatchGet(Requests(nc)))
    sent = nc.stats["out_msgs"]
    async with asyncio.timeout(10):
        state = await read_task_state(publisher, task)
    assert nc.stats["out_msgs"] - sent <= 2  # the request (and at most the reply subscription's first SUB)
    assert state is not None and state.other_runs_submitted
    assert state.last_started is not None and state.last_started.data == b"start 2"
    assert state.last_finished is not None and state.last_finished.data == b"done"
    fresh = await read_task_state(publisher, sleep_task("never-seen", 0.0, run_id="own"))
    assert fresh == TaskState(other_runs_submitted=False, last_started=None, last_finished=None)


async def test_a_task_state_the_batch_cannot_hold_is_left_to_the_single_look_ups(
    nc: NATS, js: JetStreamContext, topology: Topology
) -> None:
    """More runs submitting one id than a batch holds: no partial answer, the caller asks question by question."""
    for run in range(BATCH + 1):
        await js.publish(names.task_subject(f"r{run}", "crowded", names.EventType.SUBMITTED), b"x")
    publisher = Publisher(js, timeout_s=2.0, abort=asyncio.Event(), batch_get=BatchGet(Requests(nc)))
    async with asyncio.timeout(10):
        assert await read_task_state(publisher, sleep_task("crowded", 0.0, run_id="r0")) is None


async def test_a_stream_without_direct_gets_leaves_the_task_state_to_the_single_look_ups(
    nc: NATS, js: JetStreamContext, topology: Topology
) -> None:
    """No responder for batch gets: None at once (no retrying until the deadline), so the API look-ups run."""
    await allow_direct(js, names.EVENTS_STREAM, False)
    publisher = Publisher(js, timeout_s=2.0, abort=asyncio.Event(), batch_get=BatchGet(Requests(nc)))
    async with asyncio.timeout(10):
        assert await read_task_state(publisher, sleep_task("plain", 0.0)) is None
