"""Cancel requests and deadlines interrupt a running task (within a second) or keep it from starting."""

from __future__ import annotations

from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.common.clock import utcnow
from handoff.schemas.events import ErrorCode, TaskStarted, TaskStatus
from handoff.schemas.topology import Topology
from tests.generator.support import cancel, finished_events, in_future, replica, sleep_task, started_events, submit
from tests.support.nats import eventually


async def test_a_cancel_request_interrupts_a_running_task_on_whichever_replica_runs_it(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """Cancelling a running 30 s task finishes it as cancelled within 1 s of the request, with the reason."""
    async with replica(nats_server.url, replica_id="c-1"), replica(nats_server.url, replica_id="c-2"):
        await submit(js, sleep_task("t-cancel", 30.0))
        (started,) = await eventually(lambda: started_events(js, "t-cancel"), what="the task to start")
        assert isinstance(started, TaskStarted)
        request = await cancel(js, "t-cancel", reason="no longer needed")
        (finished,) = await eventually(lambda: finished_events(js, "t-cancel"), timeout_s=5, what="the cancel")
    assert finished.status is TaskStatus.CANCELLED and finished.replica_id == started.replica_id
    assert finished.error is not None and finished.error.code is ErrorCode.CANCELLED
    assert "no longer needed" in finished.error.message
    assert (finished.finished_at - request.requested_at).total_seconds() < 1.0


async def test_a_task_cancelled_before_it_is_pulled_never_starts(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A cancel stored before the submit is pulled finishes the task as cancelled without a TaskStarted."""
    await cancel(js, "t-precancel", reason="changed my mind")
    await submit(js, sleep_task("t-precancel", 30.0))
    async with replica(nats_server.url):
        (finished,) = await eventually(lambda: finished_events(js, "t-precancel"), what="the task to finish")
    assert finished.status is TaskStatus.CANCELLED
    assert await started_events(js, "t-precancel") == []


async def test_a_running_task_past_its_deadline_is_interrupted_and_times_out(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A 30 s task with a deadline 1.5 s away finishes as timed_out within 1 s of the deadline."""
    task = sleep_task("t-deadline", 30.0, deadline=in_future(1.5))
    async with replica(nats_server.url):
        await submit(js, task)
        (finished,) = await eventually(lambda: finished_events(js, "t-deadline"), timeout_s=8, what="the timeout")
    assert finished.status is TaskStatus.TIMED_OUT
    assert finished.error is not None and finished.error.code is ErrorCode.TIMED_OUT
    assert task.deadline is not None
    assert 0 <= (finished.finished_at - task.deadline).total_seconds() < 1.0
    assert len(await started_events(js, "t-deadline")) == 1


async def test_a_task_received_after_its_deadline_times_out_without_running(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A submit whose deadline has already passed finishes as timed_out and never starts."""
    await submit(js, sleep_task("t-late", 1.0, deadline=utcnow()))
    async with replica(nats_server.url):
        (finished,) = await eventually(lambda: finished_events(js, "t-late"), what="the task to finish")
    assert finished.status is TaskStatus.TIMED_OUT
    assert finished.error is not None and "before the task started" in finished.error.message
    assert await started_events(js, "t-late") == []


async def test_a_cancelled_task_still_in_the_queue_finishes_cancelled_without_waiting_for_a_slot(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """The only slot is busy for a minute; a queued task's cancel finishes it (cancelled, attempt 0) at once."""
    async with replica(nats_server.url, replica_id="busy", slots=1):
        await submit(js, sleep_task("t-hog", 60.0))
        await eventually(lambda: started_events(js, "t-hog"), what="the hog to take the slot")
        await submit(js, sleep_task("t-queued", 0.0))
        await cancel(js, "t-queued", reason="not needed")
        [finished] = await eventually(lambda: finished_events(js, "t-queued"), what="the queued task to finish")
        assert await finished_events(js, "t-hog") == []  # the slot never freed
    assert finished.status is TaskStatus.CANCELLED and finished.attempt == 0
    assert finished.error is not None and "not needed" in finished.error.message
    assert await started_events(js, "t-queued") == []
