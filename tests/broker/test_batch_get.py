"""Batch direct gets asked in one turn of the event loop share one request, and each caller gets its own answer."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.batch_get import BatchGet, LastMessages
from handoff.broker.requests import Requests
from handoff.schemas import names
from handoff.schemas.topology import Topology

STREAM = names.EVENTS_STREAM


def subject(run: str, task: str, event: names.EventType) -> str:
    return names.task_subject(run, task, event)


def shown(answer: LastMessages) -> tuple[list[tuple[str | None, bytes | None]], bool]:
    return [(m.subject, m.data) for m in answer.messages], answer.complete


async def seed(js: JetStreamContext) -> None:
    for run, task, event, data in [
        ("r1", "a", names.EventType.SUBMITTED, b"a submitted by r1"),
        ("r2", "a", names.EventType.SUBMITTED, b"a submitted by r2"),
        ("r1", "a", names.EventType.STARTED, b"a started 1"),
        ("r1", "b", names.EventType.SUBMITTED, b"b submitted"),
        ("r1", "a", names.EventType.STARTED, b"a started 2"),
        ("r1", "b", names.EventType.FINISHED, b"b finished"),
        ("r1", "c", names.EventType.SUBMITTED, b"c submitted"),
    ]:
        await js.publish(subject(run, task, event), data)


LOOKUPS = [
    [names.task_filter("a", names.EventType.SUBMITTED), subject("r1", "a", names.EventType.STARTED)],
    [names.task_filter("b", names.EventType.SUBMITTED), subject("r1", "b", names.EventType.FINISHED)],
    [subject("r1", "a", names.EventType.STARTED)],  # overlaps the first
    [subject("r9", "nobody", names.EventType.FINISHED)],  # nothing matches
    [names.run_events_filter("r2")],  # a '>' filter
]


async def test_look_ups_of_one_turn_share_a_request_and_each_gets_what_its_own_request_gets(
    nc: NATS, js: JetStreamContext, topology: Topology
) -> None:
    await seed(js)
    batch_get = BatchGet(Requests(nc))
    async with asyncio.timeout(10):
        alone = [shown(await batch_get.last_per_subject(STREAM, subjects, batch=8)) for subjects in LOOKUPS]
        sent = nc.stats["out_msgs"]
        together = await asyncio.gather(*(batch_get.last_per_subject(STREAM, s, batch=8) for s in LOOKUPS))
    assert nc.stats["out_msgs"] - sent == 1
    assert [shown(answer) for answer in together] == alone
    assert alone[0] == (
        [
            (subject("r1", "a", names.EventType.SUBMITTED), b"a submitted by r1"),
            (subject("r2", "a", names.EventType.SUBMITTED), b"a submitted by r2"),
            (subject("r1", "a", names.EventType.STARTED), b"a started 2"),
        ],
        True,
    )
    assert alone[3] == ([], True)


async def test_a_shared_answer_the_batch_could_not_hold_is_incomplete_for_every_caller(
    nc: NATS, js: JetStreamContext, topology: Topology
) -> None:
    await seed(js)
    batch_get = BatchGet(Requests(nc))
    async with asyncio.timeout(10):
        answers = await asyncio.gather(
            batch_get.last_per_subject(STREAM, [names.all_tasks_filter()], batch=1),
            batch_get.last_per_subject(STREAM, [subject("r1", "c", names.EventType.SUBMITTED)], batch=1),
        )
    assert [answer.complete for answer in answers] == [False, False]


async def test_a_caller_that_gives_up_leaves_the_shared_request_to_the_others(
    nc: NATS, js: JetStreamContext, topology: Topology
) -> None:
    await seed(js)
    batch_get = BatchGet(Requests(nc))
    impatient = asyncio.ensure_future(batch_get.last_per_subject(STREAM, LOOKUPS[0], batch=8))
    patient = asyncio.ensure_future(batch_get.last_per_subject(STREAM, LOOKUPS[1], batch=8))
    await asyncio.sleep(0)  # both have asked in this turn; the request is about to go out
    impatient.cancel()
    async with asyncio.timeout(10):
        answer = await patient
    assert impatient.cancelled()
    assert shown(answer) == (
        [
            (subject("r1", "b", names.EventType.SUBMITTED), b"b submitted"),
            (subject("r1", "b", names.EventType.FINISHED), b"b finished"),
        ],
        True,
    )


@pytest.mark.parametrize(
    ("subject_filter", "subject_", "matches"),
    [
        ("a.b.c", "a.b.c", True),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.d", False),
        ("a.*", "a.b.c", False),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("*.*.*", "a.b", False),
        ("a.b", "a.b.c", False),
    ],
)
def test_subject_filters_match_by_the_rules_of_nats(subject_filter: str, subject_: str, matches: bool) -> None:
    assert names.subject_matches(subject_filter, subject_) is matches
