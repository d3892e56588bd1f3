"""One replica, one task at a time: the lifecycle events, retries, failures, idempotency."""

from __future__ import annotations

from nats.js import JetStreamContext
from prometheus_client import REGISTRY

from handoff.broker.embedded import EmbeddedNats
from handoff.common.clock import utcnow
from handoff.runners.sleep import SleepRunner
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import (
    ErrorCode,
    GenerateTests,
    Sleep,
    SleepResult,
    SourceSnapshot,
    TaskFinished,
    TaskProgress,
    TaskStatus,
    TaskSubmitted,
)
from handoff.schemas.topology import Topology
from tests.generator.support import (
    finished_events,
    read_events,
    replica,
    sleep_task,
    started_events,
    submit,
)
from tests.support.nats import eventually


async def finished_once(js: JetStreamContext, task_id: str, timeout_s: float = 10.0) -> TaskFinished:
    async def probe() -> list[TaskFinished]:
        return await finished_events(js, task_id)

    found = await eventually(probe, timeout_s=timeout_s, what=f"TaskFinished of {task_id}")
    assert len(found) == 1, found
    return found[0]


async def test_a_task_runs_once_and_its_submit_is_acked(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A sleep task gets one TaskStarted (attempt 1, this replica), one succeeded TaskFinished, and is acked."""
    labels = {"kind": "sleep", "status": "succeeded"}
    metric_before = REGISTRY.get_sample_value("handoff_tasks_finished_total", labels) or 0.0
    async with replica(nats_server.url, replica_id="solo") as generator:
        await submit(js, sleep_task("t-basic", 0.1, run_id="run-1"))
        finished = await finished_once(js, "t-basic")
        started = await started_events(js, "t-basic")

        async def acked() -> bool:
            info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
            return info.num_ack_pending == 0 and info.ack_floor.stream_seq >= 1

        await eventually(acked, what="the submit to be acked")
    assert finished.status is TaskStatus.SUCCEEDED
    assert isinstance(finished.result, SleepResult)
    assert finished.run_id == "run-1" and finished.replica_id == "solo" and finished.attempt == 1
    assert finished.timings.run_s is not None and finished.timings.run_s >= 0.1
    assert [(s.attempt, s.replica_id) for s in started] == [(1, "solo")]
    assert generator.stats.finished[TaskStatus.SUCCEEDED] == 1 and generator.stats.started == 1
    assert REGISTRY.get_sample_value("handoff_tasks_finished_total", labels) == metric_before + 1


async def test_progress_and_trace_context_reach_the_lifecycle_events(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """Runner progress becomes numbered TaskProgress events; the submit's traceparent is on every event."""
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with replica(nats_server.url, runners={Sleep: SleepRunner(progress_every_s=0.1)}):
        await submit(js, sleep_task("t-progress", 0.35), headers={"traceparent": traceparent})
        await finished_once(js, "t-progress")
    progress = await read_events(js, names.task_filter("t-progress", names.EventType.PROGRESS))
    assert [(p.seq, p.stage, p.attempt) for p in progress if isinstance(p, TaskProgress)] == [
        (n, "sleeping", 1) for n in range(4)
    ]
    for event in (names.EventType.STARTED, names.EventType.PROGRESS, names.EventType.FINISHED):
        stored = await js.get_last_msg(names.EVENTS_STREAM, names.task_subject(None, "t-progress", event))
        assert (stored.headers or {}).get("traceparent") == traceparent, event


async def test_a_transient_failure_is_retried_until_attempts_run_out(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A retryable failure runs max_attempts times with a 'retrying' progress event, then fails as retryable."""
    task = sleep_task("t-flaky", 0.0, fail_with=ErrorCode.LLM_RATE_LIMITED, fail_retryable=True, max_attempts=3)
    async with replica(nats_server.url) as generator:
        await submit(js, task)
        finished = await finished_once(js, "t-flaky")
    started = await started_events(js, "t-flaky")
    progress = await read_events(js, names.task_filter("t-flaky", names.EventType.PROGRESS))
    assert [s.attempt for s in started] == [1, 2, 3]
    assert finished.status is TaskStatus.FAILED and finished.attempt == 3
    assert finished.error is not None and finished.error.code is ErrorCode.LLM_RATE_LIMITED and finished.error.retryable
    retrying = [p for p in progress if isinstance(p, TaskProgress) and p.stage == "retrying"]
    assert [p.attempt for p in retrying] == [1, 2]
    assert "llm_rate_limited" in retrying[0].message
    assert generator.stats.retries_scheduled == 2


async def test_a_permanent_failure_ends_the_task_after_one_attempt(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A non-retryable failure finishes the task as failed with its typed error code, without retrying."""
    async with replica(nats_server.url):
        await submit(js, sleep_task("t-broken", 0.0, fail_with=ErrorCode.VALIDATION_FAILED))
        finished = await finished_once(js, "t-broken")
    assert finished.status is TaskStatus.FAILED
    assert finished.error is not None and finished.error.code is ErrorCode.VALIDATION_FAILED
    assert not finished.error.retryable
    assert len(await started_events(js, "t-broken")) == 1


async def test_a_kind_without_a_runner_fails_with_a_clear_error(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A generate_tests task on a replica that only runs sleep tasks fails naming the missing runner."""
    task = TaskSubmitted(
        task_id="t-nokind",
        payload=GenerateTests(source=SourceSnapshot(digest="a" * 64, size_bytes=1, files=1), targets=["m.py"]),
        submitted_at=utcnow(),
    )
    async with replica(nats_server.url):
        await submit(js, task)
        finished = await finished_once(js, "t-nokind")
    assert finished.status is TaskStatus.FAILED
    assert finished.error is not None and finished.error.code is ErrorCode.INTERNAL
    assert "generate_tests" in finished.error.message and "sleep" in finished.error.message
    assert await started_events(js, "t-nokind") == []


async def test_a_redelivered_submit_of_a_finished_task_is_acked_without_running(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """With a TaskFinished already stored, a second submit with the same task id is acked and not run."""
    async with replica(nats_server.url) as generator:
        await submit(js, sleep_task("t-twice", 0.0))
        await finished_once(js, "t-twice")
        # the same task submitted again outside the duplicate window looks like this: a new message, same id
        task = sleep_task("t-twice", 0.0)
        await js.publish(names.task_subject(None, "t-twice", names.EventType.SUBMITTED), encode(task))

        async def skipped() -> bool:
            return generator.stats.already_finished == 1

        await eventually(skipped, what="the second submit to be recognised as finished")
    assert len(await started_events(js, "t-twice")) == 1
    assert len(await finished_events(js, "t-twice")) == 1
