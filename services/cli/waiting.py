"""Waiting for many tasks with live progress: completion from ``as_completed`` (no polling, nothing missed),
progress lines from a core subscription to the tasks' lifecycle subjects (display only)."""

from __future__ import annotations

from contextlib import aclosing

from nats.aio.msg import Msg

from schemas import names
from schemas.codec import DecodeError, Decoder
from schemas.events import AnyEvent, TaskFinished
from services.cli.errors import CliError
from services.cli.exit_codes import Exit
from services.cli.progress import ProgressBoard
from services.client.client import HandoffClient
from services.client.errors import ResultTimeoutError
from services.client.retry import retry_transient

_events: Decoder[AnyEvent] = Decoder(AnyEvent)


async def run_task_ids(client: HandoffClient, run_id: str) -> list[str]:
    """The task ids submitted under ``run_id``, from the subjects of their submit events."""
    subjects_filter = names.task_subject(run_id, "*", names.EventType.SUBMITTED)
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

    async def on_event(msg: Msg) -> None:
        try:
            board.apply(_events.decode(msg.data))
        except DecodeError:
            return  # display only; results come from as_completed

    subjects = [names.run_events_filter(run_id)] if run_id else [names.task_filter(t) for t in ids]
    subs = [await client.nc.subscribe(s, cb=on_event) for s in subjects]
    timed_out: ResultTimeoutError | None = None
    try:
        board.render()
        async with aclosing(client.as_completed(ids, timeout_s)) as finishes:
            async for finished in finishes:
                finals[finished.task_id] = finished
                board.finish(finished)
    except ResultTimeoutError as exc:
        timed_out = exc
    finally:
        board.close()
        for s in subs:
            await s.unsubscribe()
    return finals, timed_out
