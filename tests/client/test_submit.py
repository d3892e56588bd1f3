"""Submitting: acknowledged by JetStream before the call returns, idempotent by task id, refused when invalid."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import HandoffClient, SubmitError, TaskIdTaken
from handoff.schemas import names
from handoff.schemas.codec import Decoder
from handoff.schemas.events import Priority, Sleep, TaskSubmitted
from handoff.schemas.topology import Topology
from tests.support.nats import eventually


async def submits_stored(js: JetStreamContext, task_id: str) -> int:
    info = await js.stream_info(
        names.EVENTS_STREAM, subjects_filter=names.task_filter(task_id, names.EventType.SUBMITTED)
    )
    return sum((info.state.subjects or {}).values())


async def test_submit_returns_the_task_id_once_the_event_is_stored(
    client: HandoffClient, js: JetStreamContext, topology: Topology
) -> None:
    """The TaskSubmitted is in the stream, on the task's subject, with the options given, when submit returns."""
    task_id = await client.submit(
        Sleep(duration_s=1), run_id="run-a", run_size=2, timeout_s=60, priority=Priority.HIGH, labels={"k": "v"}
    )
    msg = await js.get_last_msg(names.EVENTS_STREAM, names.task_subject("run-a", task_id, names.EventType.SUBMITTED))
    event = Decoder(TaskSubmitted).decode(msg.data or b"")
    assert msg.headers and msg.headers[names.Header.MSG_ID] == names.submit_msg_id(task_id)
    assert (event.task_id, event.run_id, event.run_size, event.priority) == (task_id, "run-a", 2, Priority.HIGH)
    assert event.deadline is not None and 59 < (event.deadline - event.submitted_at).total_seconds() <= 60
    assert event.submitter == "tests" and event.labels == {"k": "v"}


async def test_submitting_the_same_task_id_twice_stores_it_once(
    client: HandoffClient, js: JetStreamContext, topology: Topology
) -> None:
    """A retried submit of the same task is de-duplicated by JetStream; a different task under the id is refused."""
    first = await client.submit(Sleep(duration_s=0), task_id="same-id")
    second = await client.submit(Sleep(duration_s=0), task_id="same-id")
    assert first == second == "same-id"
    with pytest.raises(TaskIdTaken, match="same-id"):
        await client.submit(Sleep(duration_s=5), task_id="same-id")
    assert await submits_stored(js, "same-id") == 1


async def test_an_invalid_task_is_refused_before_anything_is_published(
    client: HandoffClient, js: JetStreamContext, topology: Topology
) -> None:
    """A task id that cannot be a subject token gives a non-retryable SubmitError naming the problem."""
    with pytest.raises(SubmitError) as info:
        await client.submit(Sleep(duration_s=0), task_id="not a valid id")
    assert not info.value.retryable and "task_id" in str(info.value)
    with pytest.raises(ValueError, match="deadline or timeout_s"):
        await client.submit(Sleep(duration_s=0), timeout_s=1, deadline=datetime.now(UTC))
    info_all = await js.stream_info(names.EVENTS_STREAM)
    assert info_all.state.messages == 0


async def test_a_submit_during_a_server_outage_is_retried_with_the_same_id_and_stored_once(
    client: HandoffClient, js: JetStreamContext, topology: Topology, nats_server: EmbeddedNats
) -> None:
    """Submit blocks while nats-server is down, returns once it is back, and the stream holds one submit."""
    nats_server.kill()
    pending = asyncio.create_task(client.submit(Sleep(duration_s=0), task_id="through-outage"))
    await asyncio.sleep(1.5)  # let several publish attempts fail against the dead server
    assert not pending.done()
    await asyncio.to_thread(nats_server.start)
    assert await asyncio.wait_for(pending, timeout=20) == "through-outage"
    assert await submits_stored(js, "through-outage") == 1


async def test_a_submit_that_cannot_reach_jetstream_in_time_raises_a_retryable_submit_error(
    nc_settings_client: HandoffClient, nats_server: EmbeddedNats, topology: Topology
) -> None:
    """With the server gone for longer than submit_timeout_s, SubmitError says the submit may be retried."""
    nats_server.kill()
    with pytest.raises(SubmitError) as info:
        await nc_settings_client.submit(Sleep(duration_s=0), task_id="never-acked")
    assert info.value.retryable and info.value.task_id == "never-acked"
    await asyncio.to_thread(nats_server.start)

    async def reconnected() -> bool:
        return nc_settings_client.nc.is_connected

    await eventually(reconnected, timeout_s=20, what="client reconnected")  # a clean close needs a live socket


@pytest.fixture
def nc_settings_client(client: HandoffClient) -> HandoffClient:
    return HandoffClient(client.nc, settings=msgspec.structs.replace(client.settings, submit_timeout_s=1.5))
