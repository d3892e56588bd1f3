"""``handoff watch``: the live lifecycle stream of a run or a task (``--from start`` replays its history)."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import aclosing

from handoff.cli.common import err, open_client, print_json, run_id_arg, task_id_arg
from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit
from handoff.client.client import HandoffClient
from handoff.client.errors import UnknownRunError
from handoff.client.runs import watch_events
from handoff.schemas import names
from handoff.schemas.events import AnyEvent, RunFinished, TaskFinished, TaskProgress, TaskStarted, TaskSubmitted


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("watch", help="print lifecycle events of a run or task as they happen")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--run-id", type=run_id_arg, help="the run's task events and its RunFinished")
    target.add_argument("--task-id", type=task_id_arg, help="one task's events (neither: every task and run)")
    p.add_argument("--from", dest="start", choices=("now", "start"), default="now", help="'start' replays history")
    p.add_argument("--until-finished", action="store_true", help="stop after the run's or task's final event")
    p.add_argument("--json", action="store_true", help="one JSON event per line")
    p.set_defaults(handler=run)


def describe(event: AnyEvent) -> str:
    at = getattr(event, "at", None) or getattr(event, "started_at", None) or getattr(event, "finished_at", None)
    at = at or getattr(event, "submitted_at", None)
    stamp = at.strftime("%H:%M:%S") if at else "--:--:--"
    task = getattr(event, "task_id", "") or getattr(event, "run_id", "")
    match event:
        case TaskSubmitted():
            what = f"submitted ({event.kind})"
        case TaskStarted():
            what = f"started on {event.replica_id}, attempt {event.attempt}"
        case TaskProgress():
            what = f"[{event.stage}] {event.message}"
        case TaskFinished():
            error = f" - {event.error.code}: {event.error.message}" if event.error else ""
            what = f"finished {event.status}{error}"
        case RunFinished():
            what = f"run finished: {', '.join(f'{n} {s}' for s, n in event.counts.items())}"
        case _:
            what = type(event).__name__
    return f"{stamp}  {task}  {what}"


async def run(args: argparse.Namespace) -> int:
    if args.run_id:
        filters = [names.run_events_filter(args.run_id), names.run_filter(args.run_id)]
    elif args.task_id:
        filters = [names.task_filter(args.task_id)]
    else:
        filters = [names.ALL_TASK_EVENTS, names.ALL_RUN_EVENTS]
    async with open_client() as client:
        if args.start == "now" and (ended := await _already_over(client, args)) is not None:
            err(ended)
            return Exit.OK
        async with aclosing(watch_events(client, filters, from_start=args.start == "start")) as events:
            return await _print(args, events)


async def _print(args: argparse.Namespace, events: AsyncIterator[AnyEvent]) -> int:
    async for event in events:
        print_json(event) if args.json else print(describe(event), flush=True)
        if args.until_finished and _is_end(args, event):
            return Exit.OK
    raise CliError(Exit.UNAVAILABLE, "watch ended unexpectedly")  # pragma: no cover


async def _already_over(client: HandoffClient, args: argparse.Namespace) -> str | None:
    """Watching from now a run or task that has finished would wait forever for nothing: say so instead.
    Unknown ids end with exit 5 (UnknownRunError / UnknownTaskError)."""
    lookups = client.lookups
    if args.run_id:
        if await lookups.run_finished(args.run_id) is not None:
            return f"run {args.run_id} has finished; 'handoff watch --run-id {args.run_id} --from start' replays it"
        known = (
            await lookups.run_record(args.run_id) is not None
            or await lookups.any_event(names.run_events_filter(args.run_id))
            or await lookups.any_event(names.run_filter(args.run_id))
        )
        if not known:
            raise UnknownRunError(args.run_id)
    elif args.task_id and await lookups.final(args.task_id) is not None:
        return f"task {args.task_id} has finished; 'handoff watch --task-id {args.task_id} --from start' replays it"
    return None


def _is_end(args: argparse.Namespace, event: AnyEvent) -> bool:
    if args.run_id:
        return isinstance(event, RunFinished)
    return isinstance(event, TaskFinished)
