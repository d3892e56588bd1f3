"""Helpers for generator tests: replicas on their own connections, submits, and reading lifecycle events back.

Executions are observed through the events on the stream (never through generator internals) where possible.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import nats.js.errors
from nats.js import JetStreamContext

from handoff.broker.connect import connect
from handoff.common.clock import utcnow
from handoff.common.settings import CommonSettings, EmbeddedSettings, LogSettings, NatsSettings
from handoff.generator import Generator, GeneratorSettings
from handoff.runners.base import Runner
from handoff.runners.sleep import SleepRunner
from handoff.schemas import names
from handoff.schemas.codec import Decoder, encode
from handoff.schemas.events import (
    AnyEvent,
    CancelRequested,
    DeadLettered,
    Payload,
    Sleep,
    TaskFinished,
    TaskStarted,
    TaskSubmitted,
)
from handoff.schemas.topology import TopologyParams
from tests.support.nats import FAST_TOPOLOGY

EVENT_DECODER: Decoder[AnyEvent] = Decoder(AnyEvent)
SLEEP_ONLY: Mapping[type[Payload], Runner] = {Sleep: SleepRunner()}


def generator_settings(
    url: str,
    *,
    replica_id: str,
    topology: TopologyParams = FAST_TOPOLOGY,
    nats_password: str | None = None,
    **overrides: object,
) -> GeneratorSettings:
    """Settings of a test replica; ``nats_password`` is configured but not sent (no user is set)."""
    common = CommonSettings(
        nats=NatsSettings(url=url, reconnect_wait_s=0.1, publish_timeout_s=1.0, password=nats_password),
        embedded=EmbeddedSettings(data_dir=Path("/nonexistent")),
        topology=topology,
        log=LogSettings(),
        apply_topology=False,
    )
    options: dict[str, object] = {"slots": 2, "shutdown_grace_s": 5.0, "fetch_timeout_s": 0.5, "interrupt_grace_s": 2.0}
    options.update(overrides)
    return GeneratorSettings(common=common, replica_id=replica_id, **options)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def replica(
    url: str,
    *,
    replica_id: str = "r1",
    runners: Mapping[type[Payload], Runner] | None = SLEEP_ONLY,
    topology: TopologyParams = FAST_TOPOLOGY,
    **overrides: object,
) -> AsyncIterator[Generator]:
    """A generator replica on its own connection, serving in a background task until the block ends.

    ``runners=None`` gives it the default registry (the real agent runner included)."""
    settings = generator_settings(url, replica_id=replica_id, topology=topology, **overrides)
    nc = await connect(settings.common.nats, name=replica_id, url=url)
    try:
        async with Generator(nc, settings=settings, runners=runners) as generator:
            serving = asyncio.create_task(generator.run())
            try:
                yield generator
            finally:
                generator.stop()
                await serving
    finally:
        await nc.close()


def sleep_task(task_id: str, duration_s: float, *, run_id: str | None = None, **fields: object) -> TaskSubmitted:
    payload_fields = {k: fields.pop(k) for k in ("fail_with", "fail_retryable") if k in fields}
    return TaskSubmitted(
        task_id=task_id,
        run_id=run_id,
        payload=Sleep(duration_s=duration_s, **payload_fields),  # type: ignore[arg-type]
        submitted_at=utcnow(),
        **fields,  # type: ignore[arg-type]
    )


async def submit(js: JetStreamContext, task: TaskSubmitted, headers: Mapping[str, str] | None = None) -> None:
    subject = names.task_subject(task.run_id, task.task_id, names.EventType.SUBMITTED)
    await js.publish(
        subject, encode(task), headers={**(headers or {}), names.Header.MSG_ID: names.submit_msg_id(task.task_id)}
    )


async def cancel(js: JetStreamContext, task_id: str, reason: str = "test") -> CancelRequested:
    request = CancelRequested(task_id=task_id, requested_at=utcnow(), reason=reason, requested_by="tests")
    await js.publish(names.cancel_subject(task_id), encode(request))
    return request


async def read_events(js: JetStreamContext, subject_filter: str, stream: str = names.EVENTS_STREAM) -> list[AnyEvent]:
    """Every event on subjects matching ``subject_filter``, in stream order."""
    found: list[AnyEvent] = []
    seq = 1
    while True:
        try:
            raw = await js.get_msg(stream, seq, subject=subject_filter, next=True)
        except nats.js.errors.NotFoundError:
            return found
        found.append(EVENT_DECODER.decode(raw.data or b""))
        seq = (raw.seq or seq) + 1


async def started_events(js: JetStreamContext, task_id: str) -> list[TaskStarted]:
    events = await read_events(js, names.task_filter(task_id, names.EventType.STARTED))
    return [e for e in events if isinstance(e, TaskStarted)]


async def finished_events(js: JetStreamContext, task_id: str | None = None) -> list[TaskFinished]:
    finished = names.EventType.FINISHED
    subject = names.task_filter(task_id, finished) if task_id else names.all_tasks_filter(finished)
    return [e for e in await read_events(js, subject) if isinstance(e, TaskFinished)]


async def dead_letters(js: JetStreamContext) -> list[DeadLettered]:
    events = await read_events(js, names.dlq_subject("*"), stream=names.DLQ_STREAM)
    return [e for e in events if isinstance(e, DeadLettered)]


async def count_on(js: JetStreamContext, subject_filter: str) -> int:
    info = await js.stream_info(names.EVENTS_STREAM, subjects_filter=subject_filter)
    return sum((info.state.subjects or {}).values())


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of [start, end] intervals that overlap at one instant."""
    points = [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals]
    running = peak = 0
    for _, step in sorted(points, key=lambda p: (p[0], p[1])):  # ends sort before starts at the same instant
        running += step
        peak = max(peak, running)
    return peak


def in_future(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)
