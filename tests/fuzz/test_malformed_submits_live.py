"""Malformed submits published raw through the live broker: each is dead-lettered with its reason, the services stay
up, and the valid tasks published between them all finish."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats.js.errors
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.collector import Collector
from handoff.generator import Generator
from handoff.schemas import names
from handoff.schemas.codec import Decoder
from handoff.schemas.events import DeadLettered, ErrorCode, TaskStatus
from handoff.schemas.records import TaskState
from handoff.schemas.topology import Topology
from tests.collector.conftest import RunningCollector
from tests.collector.probes import task_record
from tests.fuzz.malformed import MAX_SUBMIT_BYTES, Defect, defects, expected_reasons
from tests.generator.support import count_on, finished_events, replica, sleep_task, started_events, submit
from tests.support.nats import eventually

LETTERS: Decoder[DeadLettered] = Decoder(DeadLettered)
BATCH_NUMBERS = itertools.count()


@dataclass(frozen=True)
class Published:
    defect: Defect
    task_id: str
    subject: str
    data: bytes
    seq: int


@dataclass
class Services:
    generator: Generator
    collector: Collector


@pytest.fixture
async def services(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology, running_collector: RunningCollector
) -> AsyncIterator[Services]:
    """One generator replica (refusing submits over MAX_SUBMIT_BYTES) and one collector, for every example."""
    async with (
        replica(nats_server.url, replica_id="fuzz-replica", slots=4, max_submit_bytes=MAX_SUBMIT_BYTES) as generator,
        running_collector(js) as collector,
    ):
        yield Services(generator, collector)


async def letters_from(js: JetStreamContext, first_seq: int) -> dict[int, DeadLettered]:
    """Dead letters stored at or after ``first_seq`` in the DLQ stream, by the events-stream sequence they name."""
    found: dict[int, DeadLettered] = {}
    seq = first_seq
    while True:
        try:
            raw = await js.get_msg(names.DLQ_STREAM, seq, next=True)
        except nats.js.errors.NotFoundError:
            return found
        letter = LETTERS.decode(raw.data or b"")
        assert letter.stream_seq is not None
        found[letter.stream_seq] = letter
        seq = (raw.seq or seq) + 1


async def dlq_last_seq(js: JetStreamContext) -> int:
    return (await js.stream_info(names.DLQ_STREAM)).state.last_seq or 0


@settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each try of a failing batch waits 30 s
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(defects, min_size=4, max_size=14))
async def test_malformed_submits_are_dead_lettered_and_the_valid_tasks_between_them_finish(
    services: Services, js: JetStreamContext, batch: list[Defect]
) -> None:
    """Per batch: one DeadLettered per bad message with its reason and bytes; every valid task succeeds."""
    number = next(BATCH_NUMBERS)
    first_letter = await dlq_last_seq(js) + 1
    bad: list[Published] = []
    good: list[str] = []
    for i, defect in enumerate(batch):
        task_id = f"fz{number}-{i}"
        data = defect.build(task_id)
        subject = names.task_subject_of_tokens(names.NO_RUN, defect.bad_token or task_id, names.EventType.SUBMITTED)
        ack = await js.publish(subject, data)
        bad.append(Published(defect, task_id, subject, data, ack.seq))
        good.append(f"ok{number}-{i}")
        await submit(js, sleep_task(good[-1], 0.01 * (i % 3)))

    async def every_letter() -> dict[int, DeadLettered] | None:
        letters = await letters_from(js, first_letter)
        return letters if all(p.seq in letters for p in bad) else None

    letters = await eventually(every_letter, timeout_s=30, interval_s=0.1, what="a dead letter per bad submit")
    assert len(letters) == len(bad), "a dead letter for something that was not malformed"
    for published in bad:
        letter = letters[published.seq]
        what = f"{published.defect.family}: {letter.reason} {letter.detail[:200]}"
        assert letter.reason in expected_reasons(published.defect, published.data), what
        assert letter.detail and letter.origin == "generator", what
        assert letter.original == published.data and letter.original_subject == published.subject, what
        assert letter.task_id == (None if published.defect.bad_token else published.task_id), what

    async def every_valid_task_recorded() -> bool:
        records = [await task_record(js, task_id) for task_id in good]
        return all(r is not None and r.final for r in records)

    await eventually(every_valid_task_recorded, timeout_s=30, interval_s=0.1, what="the valid tasks' records")
    for task_id in good:
        (finished,) = await finished_events(js, task_id)
        assert finished.status is TaskStatus.SUCCEEDED, (task_id, finished.error)
        record = await task_record(js, task_id)
        assert record is not None and record.state is TaskState.SUCCEEDED and record.finished == finished

    for published in (p for p in bad if p.defect.bad_token is None):
        finished_list = await eventually(
            lambda p=published: finished_events(js, p.task_id), what=f"{published.task_id} to be finished"
        )
        assert [(f.status, f.error and f.error.code) for f in finished_list] == [
            (TaskStatus.DEAD_LETTERED, ErrorCode.DEAD_LETTERED)
        ], published.defect.family
        assert await started_events(js, published.task_id) == [], published.defect.family
        assert await count_on(js, names.task_filter(f"{published.task_id}-elsewhere")) == 0

    async def nothing_in_flight() -> bool:
        info = await js.consumer_info(names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
        return info.num_ack_pending == 0 and info.num_pending == 0

    await eventually(nothing_in_flight, what="every submit acked or termed")
    assert services.generator.stats.ready and services.collector.ready
    assert services.collector.stats.dead_lettered == 0, "the collector dead-lettered submits the generator owns"
