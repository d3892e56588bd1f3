"""Waiting for many tasks with live progress: completion from ``as_completed`` (no polling, nothing missed),
progress from the task records at the start (with a running task's earlier progress from the events stream) and
then a JetStream watch of the tasks' lifecycle events (display only)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from contextlib import aclosing

from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit
from handoff.cli.progress import ProgressBoard
from handoff.client.client import HandoffClient
from handoff.client.errors import HandoffUnavailableError, ResultTimeoutError
from handoff.client.progress_history import EarlierProgress
from handoff.client.retry import retry_transient
from handoff.client.runs import watch_events
from handoff.schemas import names
from handoff.schemas.events import AnyEvent, TaskFinished
from handoff.schemas.records import TaskRecord, TaskState

SEED_CONCURRENCY = 32
MAX_TASK_FILTERS = 64
EARLIER_PROGRESS_TASKS = 8
"""A wait that finds at most this many tasks running shows what each reported before it started (more: each
task's last progress alone)."""


async def run_task_ids(client: HandoffClient, run_id: str) -> list[str]:
    """The task ids submitted under ``run_id``, from the subjects of their submit events."""
    subjects_filter = names.run_submits_filter(run_id)
    info = await retry_transient(
        lambda: client.js.stream_info(names.EVENTS_STREAM, subjects_filter=subjects_filter),
        what=f"list the tasks of run {run_id}",
        give_up_after_s=client.settings.submit_timeout_s,
    )
    subjects = (info.state.subjects or {}) if info.state else {}
    ids = sorted(parsed[1] for s in subjects if (parsed := names.parse_task_subject(s)) is not None)
    if not ids:
        raise CliError(Exit.NOT_FOUND, f"unknown run: {run_id} (no task of it was submitted, or it expired)")
    return ids


async def wait_with_progress(
    client: HandoffClient, ids: list[str], *, run_id: str | None, timeout_s: float, quiet: bool
) -> tuple[dict[str, TaskFinished], ResultTimeoutError | None]:
    board = ProgressBoard.of(ids, quiet=quiet)
    finals: dict[str, TaskFinished] = {}
    # Progress comes from a JetStream watch (deliveries to this client's own inbox, which every role may
    # subscribe to), subscribed before the records are read so that nothing falls between the two; the board holds
    # what it delivers until the records (and a running task's earlier progress) are shown.
    if run_id:
        filters = [names.run_events_filter(run_id)]
    elif len(ids) <= MAX_TASK_FILTERS:
        filters = [names.task_filter(t) for t in ids]
    else:
        filters = [names.ALL_TASK_EVENTS]  # the board ignores other tasks' events
    subscribed = asyncio.Event()
    follower = None
    if not quiet:
        board.hold()
        follower = asyncio.create_task(
            _follow(watch_events(client, filters, from_start=False, subscribed=subscribed), board)
        )
    timed_out: ResultTimeoutError | None = None
    try:
        if follower is not None:
            await _until_subscribed(subscribed, follower)
            await _seed(client, board, ids)
            board.release()
        board.render()
        async with aclosing(client.as_completed(ids, timeout_s)) as finishes:
            async for finished in finishes:
                finals[finished.task_id] = finished
                board.finish(finished)
    except ResultTimeoutError as exc:
        timed_out = exc
    finally:
        board.close()
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
    return finals, timed_out


async def _until_subscribed(subscribed: asyncio.Event, follower: asyncio.Task[None]) -> None:
    """Until the watch is subscribed, or has ended without (an outage: the results still come)."""
    waiting = asyncio.create_task(subscribed.wait())
    try:
        await asyncio.wait({waiting, follower}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()


async def _follow(events: AsyncGenerator[AnyEvent, None], board: ProgressBoard) -> None:
    """Display only: a watch that cannot start (an outage) leaves the board to the results."""
    try:
        async with aclosing(events) as stream:
            async for event in stream:
                board.apply(event)
    except HandoffUnavailableError:
        return


async def _seed(client: HandoffClient, board: ProgressBoard, ids: list[str]) -> None:
    """A wait started mid-run shows what the records know: running tasks with their replica and progress, and,
    when few are running, what each reported before its last progress (read from the events stream)."""
    limit = asyncio.Semaphore(SEED_CONCURRENCY)

    async def one(task_id: str) -> TaskRecord | None:
        async with limit:
            return await client.lookups.task_record(task_id)

    records = [r for r in await asyncio.gather(*(one(t) for t in ids)) if r is not None]
    running = [r for r in records if r.state == TaskState.RUNNING and r.last_progress is not None]
    earlier: dict[str, EarlierProgress | None] = {}
    if 0 < len(running) <= EARLIER_PROGRESS_TASKS:
        found = await asyncio.gather(*(client.lookups.earlier_progress(r) for r in running))
        earlier = {r.task_id: e for r, e in zip(running, found, strict=True)}
    for record in records:
        board.seed(record, earlier.get(record.task_id))
