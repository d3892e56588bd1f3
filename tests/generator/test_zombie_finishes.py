"""A run whose task another run has finished (a redelivery while this replica was frozen) publishes nothing,
logs no finish and counts none."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import REGISTRY

from handoff.broker.embedded import EmbeddedNats
from handoff.common.clock import utcnow
from handoff.common.secrets import Redactor
from handoff.generator.errors import Finish, task_error
from handoff.generator.lifecycle import TaskEvents
from handoff.generator.publisher import Publisher
from handoff.schemas import names
from handoff.schemas.codec import Decoder, encode
from handoff.schemas.events import ErrorCode, SleepResult, TaskFinished, TaskStatus, Timings
from handoff.schemas.topology import Topology
from tests.generator.support import finished_events, replica, sleep_task, started_events, submit
from tests.support.nats import eventually

_finished: Decoder[TaskFinished] = Decoder(TaskFinished)


def foreign_finish(task_id: str, *, replica_id: str = "other", attempt: int = 2) -> TaskFinished:
    now = utcnow()
    return TaskFinished(
        task_id=task_id,
        status=TaskStatus.SUCCEEDED,
        finished_at=now,
        attempt=attempt,
        replica_id=replica_id,
        result=SleepResult(slept_s=0.0),
        timings=Timings(finished_at=now),
    )


async def publish_finish(js: JetStreamContext, event: TaskFinished) -> None:
    subject = names.task_subject(event.run_id, event.task_id, names.EventType.FINISHED)
    await js.publish(subject, encode(event), headers={names.Header.MSG_ID: names.finished_msg_id(event.task_id)})


async def test_a_running_task_stops_and_publishes_nothing_once_another_run_has_finished_it(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology
) -> None:
    """A foreign TaskFinished during a 60 s run: the run stops, its submit is acked, one finish is ever seen."""
    seen: list[TaskFinished] = []

    async def on_finished(msg: Msg) -> None:
        seen.append(_finished.decode(msg.data))

    await nc.subscribe(names.FINISHED_FILTER, cb=on_finished)
    labels = {"kind": "sleep", "status": "succeeded"}
    counted_before = REGISTRY.get_sample_value("handoff_tasks_finished_total", labels) or 0.0
    async with replica(nats_server.url, replica_id="zombie") as generator:
        await submit(js, sleep_task("t-zombie", 60.0))
        await eventually(lambda: started_events(js, "t-zombie"), what="the run to start")
        await publish_finish(js, foreign_finish("t-zombie"))

        async def settled() -> bool:
            info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
            return info.num_ack_pending == 0 and generator.slots_in_use == 0

        await eventually(settled, timeout_s=15, what="the run to stop and its submit to be acked")
        await nc.flush()
        assert generator.stats.finished_total == 0 and generator.stats.already_finished == 1
    assert [(f.replica_id, f.attempt) for f in seen] == [("other", 2)]
    assert [(f.replica_id, f.attempt) for f in await finished_events(js, "t-zombie")] == [("other", 2)]
    assert (REGISTRY.get_sample_value("handoff_tasks_finished_total", labels) or 0.0) == counted_before


async def test_a_duplicate_ack_for_another_runs_finish_means_finished_elsewhere(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """Publishing a finish whose message id already holds another run's finish reports None, not a finish."""
    publisher = Publisher(js, timeout_s=2.0, abort=asyncio.Event())
    await publish_finish(js, foreign_finish("t-raced"))
    events = TaskEvents(publisher, sleep_task("t-raced", 0.0), attempt=1, replica_id="zombie")
    assert await events.finished(Finish(TaskStatus.SUCCEEDED, result=SleepResult(slept_s=0.0))) is None
    own = TaskEvents(publisher, sleep_task("t-own", 0.0), attempt=1, replica_id="solo")
    published = await own.finished(Finish(TaskStatus.SUCCEEDED, result=SleepResult(slept_s=0.0)))
    assert published is not None and published.replica_id == "solo"


async def test_a_retried_finish_holding_a_secret_is_recognised_as_this_runs_own(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A finish whose first publish landed but whose ack was lost comes back as a duplicate: the stored bytes are
    this run's redacted event, so the outcome counts (it is not taken for another run's finish)."""
    publisher = Publisher(js, timeout_s=2.0, abort=asyncio.Event(), redact=Redactor(["retry-secret-9137"]))
    events = TaskEvents(publisher, sleep_task("t-retried", 0.0), attempt=1, replica_id="solo")
    error = task_error(ErrorCode.INTERNAL, "boom: retry-secret-9137")
    event = events._finished_event(Finish(TaskStatus.FAILED, error=error))
    subject = names.task_subject(None, "t-retried", names.EventType.FINISHED)
    msg_id = names.finished_msg_id("t-retried")
    await publisher.publish(subject, event, msg_id=msg_id)  # landed; its ack "lost"
    again = await publisher.publish(subject, event, msg_id=msg_id)  # the retry, same bytes
    assert again.duplicate
    assert await events._unless_elsewhere(again, event) is event
