"""``handoff wait``: wait for tasks or a whole run, with live progress; the exit code tells the outcome."""

from __future__ import annotations

import argparse
import asyncio

import msgspec

from handoff.cli import quality
from handoff.cli.common import open_client, print_json, run_id_arg, task_id_arg
from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit
from handoff.cli.waiting import run_task_ids, wait_with_progress
from handoff.client.errors import ResultTimeoutError
from handoff.client.retry import within_deadline
from handoff.schemas.events import TaskFinished, TaskStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wait", help="wait for tasks or a run to finish, showing progress")
    p.add_argument("task_ids", nargs="*", type=task_id_arg, help="task ids (or use --run-id)")
    p.add_argument("--run-id", type=run_id_arg, help="wait for every task of this run")
    p.add_argument("--timeout-s", type=float, default=900.0, help="give up waiting after this long (exit 3)")
    p.add_argument("--json", action="store_true", help="one JSON summary on stdout at the end")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=run, interrupt_note="stopped waiting; the tasks keep running ('handoff wait' again)")


async def run(args: argparse.Namespace) -> int:
    if bool(args.task_ids) == bool(args.run_id):
        raise CliError(Exit.USAGE, "give task ids or --run-id (one of them)")
    async with open_client() as client:
        if args.run_id:
            with within_deadline(asyncio.get_running_loop().time() + args.timeout_s):
                ids = await run_task_ids(client, args.run_id)
        else:
            ids = list(dict.fromkeys(args.task_ids))
        finals, timed_out = await wait_with_progress(
            client, ids, run_id=args.run_id, timeout_s=args.timeout_s, quiet=args.quiet or args.json
        )
    return _report(args, ids, finals, timed_out)


def _report(
    args: argparse.Namespace, ids: list[str], finals: dict[str, TaskFinished], timed_out: ResultTimeoutError | None
) -> int:
    rows = []
    for task_id in ids:
        f = finals.get(task_id)
        generated = quality.generation_result(f)
        rows.append(
            {
                "task_id": task_id,
                "status": str(f.status) if f else "unfinished",
                "error_code": str(f.error.code) if f and f.error else None,
                "error": f.error.message if f and f.error else None,
                "goal_met": generated.goal_met if generated else None,
                "coverage_goal_met": generated.coverage_goal_met if generated else None,
                "mutation_goal_pct": generated.mutation_goal_pct if generated else None,
                "mutation_goal_met": generated.mutation_goal_met if generated else None,
                "mutation_not_measured": generated.mutation_not_measured if generated else None,
                "goal_verdict": quality.verdict(generated) if generated else None,
                "quality": msgspec.to_builtins(generated.quality) if generated else None,
                "baseline_problem": generated.baseline_problem if generated else None,
            }
        )
    ok = timed_out is None and all(r["status"] == TaskStatus.SUCCEEDED for r in rows)
    if args.json:
        print_json({"run_id": args.run_id, "ok": ok, "timed_out": timed_out is not None, "tasks": rows})
    else:
        counts: dict[str, int] = {}
        for r in rows:
            status = str(r["status"])
            counts[status] = counts.get(status, 0) + 1
        succeeded = [r for r in rows if r["status"] == TaskStatus.SUCCEEDED]
        short = [r for r in succeeded if r["goal_verdict"] == "NOT met"]
        unmeasured = [r for r in succeeded if r["goal_verdict"] == "not measured"]
        mutation = any(r["mutation_goal_pct"] is not None for r in short)
        goal = "the coverage or mutation goal" if mutation else "the coverage goal"
        # of the succeeded ones (not more tasks): short of the goal, or not measured, which is not met either (exit 0
        # all the same: the task succeeded); handoff result says why
        of = [f"{len(short)} short of {goal}"] if short else []
        of += [f"{len(unmeasured)} with the mutation goal not measured"] if unmeasured else []
        said = {s: f"{n} {s}" + (f" ({', '.join(of)})" if s == TaskStatus.SUCCEEDED and of else "")
                for s, n in counts.items()}  # fmt: skip
        print(", ".join(said[s] for s in sorted(said)))
        for r in rows:
            result = quality.generation_result(finals.get(str(r["task_id"])))
            if r["status"] != TaskStatus.SUCCEEDED:
                print(f"  {r['task_id']}  {r['status']}  {r['error_code'] or ''} {r['error'] or ''}".rstrip())
            elif result is not None:
                print(f"  {r['task_id']}  {r['status']}  {quality.short(result)}")
        if timed_out is not None:
            print(f"gave up after {args.timeout_s:g} s; unfinished tasks keep running")
    if timed_out is not None:
        return Exit.TIMEOUT
    return Exit.OK if ok else Exit.TASK_FAILED
