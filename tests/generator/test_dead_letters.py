"""Bad submits land in the dead-letter stream with the reason and the raw bytes; the replica keeps serving."""

from __future__ import annotations

import os

from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import DeadLetterReason, ErrorCode, TaskStatus
from handoff.schemas.topology import Topology
from tests.generator.support import dead_letters, finished_events, replica, sleep_task, started_events, submit
from tests.support.nats import FAST_TOPOLOGY, eventually


def submit_subject(task_id: str, run_id: str | None = None) -> str:
    return names.task_subject(run_id, task_id, names.EventType.SUBMITTED)


async def test_random_bytes_wrong_schema_and_oversize_submits_are_dead_lettered_and_service_goes_on(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """Each bad submit gets a DeadLettered with its reason and bytes, and a dead_lettered TaskFinished."""
    junk = b"\xff" + os.urandom(511)  # random, but never the start of a JSON value ("8..." would parse as a number)
    wrong_schema = b'{"type": "task.submitted", "task_id": "bad-schema", "payload": {"kind": "sleep"}}'
    oversize = encode(sleep_task("bad-big", 0.0, labels={"pad": "x"})) + b" " * (64 * 1024)
    async with replica(nats_server.url, max_submit_bytes=32 * 1024) as generator:
        await js.publish(submit_subject("bad-bytes"), junk)
        await submit(js, sleep_task("good-1", 0.0))
        await js.publish(submit_subject("bad-schema"), wrong_schema)
        await js.publish(submit_subject("bad-big"), oversize)
        await submit(js, sleep_task("good-2", 0.0))

        async def settled() -> bool:
            return len(await finished_events(js)) >= 5

        await eventually(settled, what="five TaskFinished events")
        assert generator.stats.dead_letters == 3
    letters = {letter.task_id: letter for letter in await dead_letters(js)}
    assert letters["bad-bytes"].reason is DeadLetterReason.UNDECODABLE
    assert letters["bad-bytes"].original == junk
    assert letters["bad-schema"].reason is DeadLetterReason.SCHEMA_INVALID
    assert "payload" in letters["bad-schema"].detail or "duration_s" in letters["bad-schema"].detail
    assert letters["bad-big"].reason is DeadLetterReason.OVERSIZE and letters["bad-big"].original == oversize
    for letter in letters.values():
        assert letter.origin == "generator" and letter.stream_seq and letter.deliveries == 1
        assert letter.original_subject == submit_subject(letter.task_id or "")
    finished = {f.task_id: f for f in await finished_events(js)}
    for task_id in ("bad-bytes", "bad-schema", "bad-big"):
        error = finished[task_id].error
        assert finished[task_id].status is TaskStatus.DEAD_LETTERED
        assert error is not None and error.code is ErrorCode.DEAD_LETTERED
    assert finished["good-1"].status is TaskStatus.SUCCEEDED and finished["good-2"].status is TaskStatus.SUCCEEDED

    async def nothing_pending() -> bool:
        info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
        return info.num_ack_pending == 0 and info.num_pending == 0

    await eventually(nothing_pending, what="every submit to be acked or termed")


async def test_a_submit_on_another_tasks_subject_is_dead_lettered_as_a_mismatch(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A valid submit for task A published on task B's subject is not run; B is finished as dead_lettered."""
    async with replica(nats_server.url):
        await js.publish(submit_subject("task-b", "run-x"), encode(sleep_task("task-a", 0.0, run_id="run-x")))

        async def letter() -> list:
            return await dead_letters(js)

        (dead,) = await eventually(letter, what="the dead letter")
        (finished,) = await eventually(lambda: finished_events(js, "task-b"), what="task-b to finish")
    assert dead.reason is DeadLetterReason.SUBJECT_MISMATCH and "task-a" in dead.detail
    assert dead.task_id == "task-b" and dead.run_id == "run-x"
    assert finished.status is TaskStatus.DEAD_LETTERED and finished.run_id == "run-x"
    assert await started_events(js, "task-a") == [] and await finished_events(js, "task-a") == []


async def test_a_submit_that_runs_out_of_deliveries_is_dead_lettered_from_the_advisory(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """After max_deliver deliveries without an ack, a replica dead-letters the submit and finishes its task."""
    await submit(js, sleep_task("t-exhausted", 0.0))
    sub = await js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=names.EVENTS_STREAM)
    for _ in range(FAST_TOPOLOGY.max_deliver):  # a consumer that keeps failing to take the submit
        (msg,) = await sub.fetch(1, timeout=5)
        await msg.nak()
    await sub.unsubscribe()
    async with replica(nats_server.url) as generator:
        letters = await eventually(lambda: dead_letters(js), what="the MAX_DELIVERIES dead letter")
        (finished,) = await eventually(lambda: finished_events(js, "t-exhausted"), what="the task to finish")
        assert generator.stats.dead_letters == 1
    assert [(d.reason, d.task_id, d.deliveries) for d in letters] == [
        (DeadLetterReason.MAX_DELIVERIES, "t-exhausted", FAST_TOPOLOGY.max_deliver)
    ]
    assert finished.status is TaskStatus.DEAD_LETTERED
    assert await started_events(js, "t-exhausted") == []
