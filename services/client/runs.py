"""Following a run: its lifecycle events as they happen, and its RunFinished."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING

import structlog
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.errors import KeyNotFoundError

from handoff.client.errors import ResultTimeoutError, UnknownRunError
from handoff.client.retry import within_deadline
from handoff.client.watchers import ordered_subscription, release
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import AnyEvent, RunFinished, RunTask
from handoff.schemas.records import join_run_tasks, run_shard_decoder, run_shard_key

if TYPE_CHECKING:
    from handoff.client.client import HandoffClient

log = structlog.get_logger(__name__)

_any: Decoder[AnyEvent] = Decoder(AnyEvent)
_run_finished: Decoder[RunFinished] = Decoder(RunFinished)


async def watch_events(
    client: HandoffClient, filters: list[str], *, from_start: bool, subscribed: asyncio.Event | None = None
) -> AsyncGenerator[AnyEvent, None]:
    """Decoded events on ``filters`` of the events stream as they happen (all stored ones first with
    ``from_start``). Undecodable messages are logged with their reason and skipped. ``subscribed`` is set once the
    subscription exists: every event stored from then on is delivered."""
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        queue.put_nowait(msg)

    sub = await ordered_subscription(
        client.js,
        stream=names.EVENTS_STREAM,
        filters=filters,
        deliver=DeliverPolicy.ALL if from_start else DeliverPolicy.NEW,
        heartbeat_s=client.settings.watch_heartbeat_s,
        on_msg=on_msg,
        give_up_after_s=client.settings.submit_timeout_s,
    )
    if subscribed is not None:
        subscribed.set()
    try:
        while True:
            msg = await queue.get()
            try:
                yield _any.decode(msg.data)
            except DecodeError as exc:
                log.warning("undecodable event skipped", subject=msg.subject, reason=exc.reason.value)
    finally:
        await release(client.js, sub)


async def watch(
    client: HandoffClient, run_id: str, *, from_start: bool, until_finished: bool
) -> AsyncGenerator[AnyEvent, None]:
    filters = [names.run_events_filter(run_id), names.run_filter(run_id)]
    async with aclosing(watch_events(client, filters, from_start=from_start)) as events:
        async for event in events:
            yield event
            if until_finished and isinstance(event, RunFinished):
                return


async def wait_run(client: HandoffClient, run_id: str, timeout_s: float) -> RunFinished:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s if math.isfinite(timeout_s) else None
    with within_deadline(deadline):  # look-ups ride out an outage until the caller's deadline
        return await _wait_run(client, run_id, timeout_s, deadline)


async def _wait_run(client: HandoffClient, run_id: str, timeout_s: float, deadline: float | None) -> RunFinished:
    lookups = client.lookups
    finished = await lookups.run_finished(run_id)
    if finished is not None:
        return finished
    known = (
        await lookups.run_record(run_id) is not None
        or await lookups.any_event(names.run_events_filter(run_id))
        or await lookups.any_event(names.run_filter(run_id))
    )
    if not known:
        raise UnknownRunError(run_id)
    done: asyncio.Future[RunFinished] = asyncio.get_running_loop().create_future()

    async def on_msg(msg: Msg) -> None:
        try:
            event = _run_finished.decode(msg.data)
        except DecodeError as exc:
            log.warning("undecodable RunFinished skipped", subject=msg.subject, reason=exc.reason.value)
            return
        if not done.done():
            done.set_result(event)

    sub = await ordered_subscription(
        client.js,
        stream=names.EVENTS_STREAM,
        filters=[names.run_finished_subject(run_id)],
        deliver=DeliverPolicy.LAST_PER_SUBJECT,
        heartbeat_s=client.settings.watch_heartbeat_s,
        on_msg=on_msg,
        give_up_after_s=client.settings.submit_timeout_s,
    )
    try:
        async with asyncio.timeout_at(deadline):
            return await asyncio.shield(done)
    except TimeoutError:
        raise ResultTimeoutError([run_id], timeout_s, what="run") from None
    finally:
        await release(client.js, sub)


async def run_tasks(client: HandoffClient, run_id: str) -> list[RunTask]:
    """Every finished task of a run with its status, sorted by id, read from the run's shard records (for runs
    whose ``RunFinished`` has ``tasks_listed=False``). ``UnknownRunError`` when the run has no record."""
    record = await client.lookups.run_record(run_id)
    if record is None:
        raise UnknownRunError(run_id)
    kv = await client.js.key_value(names.RUNS_BUCKET)
    shards = []
    for index in sorted(record.shard_counts, key=int):
        try:
            entry = await kv.get(run_shard_key(run_id, int(index)))
        except KeyNotFoundError:  # expired with the record's retention
            continue
        shards.append(run_shard_decoder.decode(entry.value or b""))
    return join_run_tasks(record, shards)
