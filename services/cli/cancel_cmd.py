"""``handoff cancel``: ask for a task to be cancelled, wherever it runs or before it starts."""

from __future__ import annotations

import argparse

from handoff.cli.common import open_client, print_json, task_id_arg
from handoff.cli.exit_codes import Exit


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cancel", help="cancel a task (interrupts it if running, or it never starts)")
    p.add_argument("task_id", type=task_id_arg, help="the task to cancel")
    p.add_argument("--reason", default="cancelled from the command line", help="recorded in the task's error")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    async with open_client() as client:
        requested = await client.cancel(args.task_id, reason=args.reason)
        state = None if requested else (await client.status(args.task_id)).state
    if args.json:
        print_json({"task_id": args.task_id, "cancel_requested": requested, "already": state})
    elif requested:
        print(f"cancel requested for {args.task_id}; 'handoff wait {args.task_id}' shows when it stopped")
    else:
        print(f"{args.task_id} had already finished ({state}); nothing to cancel")
    return Exit.OK
